"""A user trains a colourizer on a folder of photos, stops, resumes, exports and uses it."""
from __future__ import annotations

import csv
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path, PurePosixPath

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from helpers.films import make_clip
from helpers.models import write_tiny_hint_model, write_tiny_model
from helpers.photos import landscape, photo_folder
from safetensors.torch import load_file

import vidcolor.training.train as train_module
from vidcolor.cli import main
from vidcolor.photo.read import read_image
from vidcolor.photo.write import write_image
from vidcolor.runtime.archs import BLOCKS8_PREFIX, build_model
from vidcolor.runtime.catalog import shipped_models
from vidcolor.runtime.weights import (
    load_model,
    load_trainable_state,
    read_metadata,
    read_weights,
    update_metadata,
    write_weights_file,
)
from vidcolor.training.data import TrainingSet, group_of, load_images
from vidcolor.training.losses import ColorLoss
from vidcolor.training.report import append_csv, read_csv
from vidcolor.training.train import TrainOptions, train
from vidcolor.utils.errors import UserError
from vidcolor.utils.folder_lock import LOCK_NAME, lock_folder

TINY = dict(size=32, batch_size=4, width=8, lr=3e-3, quiet=True)


def _stopped_at(monkeypatch: pytest.MonkeyPatch, where: str, step: int, opts: TrainOptions) -> None:
    """Train until `where` (train_step or _validate_all) is called at `step`, where a Ctrl-C stops the run."""
    going = getattr(train_module, where)

    def stopping(run: object, *args: object) -> object:
        if run.step == step:
            raise KeyboardInterrupt
        return going(run, *args)

    monkeypatch.setattr(train_module, where, stopping)
    with pytest.raises(KeyboardInterrupt):
        train(opts)
    monkeypatch.setattr(train_module, where, going)


def _metrics(run: Path) -> list[dict[str, float]]:
    with (run / "metrics.csv").open() as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]


@pytest.mark.parametrize(("family", "loss", "error"), [
    ("unet", "l1", "photos/ab_mse"), ("fusion", "l1", "photos/ab_mse"), ("fusion", "rgb", "photos/ab_mse"),
    ("fusion", "bins", "train_loss")])
def test_short_training_run_lowers_the_color_error(tmp_path, family, loss, error):
    photos = photo_folder(tmp_path / "photos")
    run = tmp_path / "run"
    train(TrainOptions(model=family, data=[photos], val=[photos], out=run, steps=40, val_every=20, loss=loss, **TINY))
    rows = _metrics(run)
    assert rows[-1][error] < rows[0][error]
    for artefact in ("checkpoint.pt", "last.safetensors", "curves.png", "samples-photos.png"):
        assert (run / artefact).is_file()


def test_the_rgb_loss_weighs_a_color_error_by_how_much_it_shows_on_screen():
    loss = ColorLoss("rgb")
    truth, off = torch.zeros(1, 2, 4, 4), torch.full((1, 2, 4, 4), 0.2)
    error_at = {lightness: loss(off, truth, torch.full((1, 1, 4, 4), lightness)).item() for lightness in (10, 60)}
    assert 0 < error_at[10] < error_at[60] / 1.5  # in the dark the same a/b error changes the picture less
    beyond = torch.full((1, 2, 4, 4), 1.0, requires_grad=True)  # past what sRGB can show at this L
    further = loss(beyond * 1.5, truth, torch.full((1, 1, 4, 4), 60.0))
    assert further.item() > loss(beyond, truth, torch.full((1, 1, 4, 4), 60.0)).item()
    further.backward()
    assert beyond.grad.abs().sum() > 0  # unclipped, so still told which way is back


def test_fine_tuned_backbone_stages_are_stored_and_used_by_run(tmp_path):
    photos = photo_folder(tmp_path / "photos", n=6)
    run = tmp_path / "run"
    train(TrainOptions(model="fusion", data=[photos], out=run, steps=3, tune_backbone=1, **TINY))
    stored = load_file(str(run / "last.safetensors"))
    backbone = {k for k in stored if k.startswith("backbones.")}
    blocks = {int(k.split("_blocks.")[1].split(".")[0]) for k in backbone if "_blocks." in k}
    assert blocks == set(range(11, 16))  # EfficientNet-Lite0's stride-32 stage, plus its head:
    assert {k for k in backbone if "_blocks." not in k} == {
        f"backbones.0.net.{name}" for name in ("_conv_head.weight", "_bn1.weight", "_bn1.bias")}

    model, meta = load_model(str(run / "last.safetensors"))
    assert meta["arch"]["tune_backbone"] == 1
    for key in backbone:
        torch.testing.assert_close(model.state_dict()[key], stored[key], rtol=0, atol=0)
    pretrained = build_model("fusion", width=8).state_dict()
    assert any(not torch.equal(pretrained[k], stored[k]) for k in backbone)


def test_a_binned_head_trains_on_top_of_a_regression_models_features(tmp_path):
    photos = photo_folder(tmp_path / "photos", n=6)
    train(TrainOptions(model="fusion", data=[photos], out=tmp_path / "l1", steps=2, **TINY))
    start = load_file(str(tmp_path / "l1" / "last.safetensors"))
    train(TrainOptions(model="fusion", data=[photos], out=tmp_path / "bins", steps=1, loss="bins", ab_bins=9,
                       temperature=0.5, init=tmp_path / "l1" / "last.safetensors", **{**TINY, "lr": 1e-12}))
    model, meta = load_model(str(tmp_path / "bins" / "last.safetensors"))
    assert meta["arch"]["ab_bins"] == 9 and model.head.temperature == 0.5
    assert model.head.conv.out_channels == 81
    trunk = {k: p for k, p in model.named_parameters() if not k.startswith("head.") and k in start}
    assert len(trunk) > 20
    for key, param in trunk.items():  # a learning rate of ~0: the step leaves them where --init put them
        torch.testing.assert_close(param.detach(), start[key], rtol=0, atol=1e-6)

    with pytest.raises(UserError, match="started with --loss bins"):
        train(TrainOptions(model="fusion", data=[photos], out=tmp_path / "bins", steps=2, resume=True, **TINY))

    vivid = tmp_path / "vivid.safetensors"
    result = CliRunner().invoke(main, ["export", str(tmp_path / "bins"), "-o", str(vivid), "--temperature", "0.3"])
    assert result.exit_code == 0, result.output
    assert load_model(str(vivid))[0].head.temperature == 0.3
    plain = tmp_path / "plain.safetensors"
    result = CliRunner().invoke(main, ["export", str(tmp_path / "l1"), "-o", str(plain), "--temperature", "0.3"])
    assert result.exit_code == 1 and "only to models trained with --loss bins" in result.output
    export = ["export", str(tmp_path / "bins"), "-o"]
    for too_low in ("0", "1e-320"):  # far below 0.01, logits divided by it overflow: colours of NaN
        result = CliRunner().invoke(main, [*export, str(vivid), "--temperature", too_low])
        assert result.exit_code == 2 and "--temperature" in result.output  # a number out of range: a usage mistake
    result = CliRunner().invoke(main, [*export, str(tmp_path / "bins" / "last.safetensors"), "--temperature", "0.5",
                                       "--overwrite"])
    assert result.exit_code == 1 and "output would overwrite the input" in result.output


def test_gan_training_runs_its_adversarial_phase_after_l1_warmup(tmp_path):
    photos = photo_folder(tmp_path / "photos", n=6)
    run = tmp_path / "run"
    train(TrainOptions(model="gan", data=[photos], out=run, steps=6, gan_warmup=3, **TINY))
    state = torch.load(run / "checkpoint.pt", weights_only=True)
    assert "disc" in state and int(state["step"]) == 6


def test_the_patchgan_learns_during_the_warmup_so_the_generator_first_meets_a_trained_critic(tmp_path, capsys):
    opts = TrainOptions(model="gan", data=[photo_folder(tmp_path / "photos", n=6)], out=tmp_path / "run", steps=3,
                        gan_warmup=3, **TINY)
    untrained = train_module.build_run(opts, torch.device("cpu"), 3).disc.state_dict()
    train(opts)
    assert "--gan-warmup 3 covers all 3 steps: none of this run is adversarial" in capsys.readouterr().err
    critic = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)["disc"]
    kernels = [k for k, v in untrained.items() if v.ndim == 4]
    assert kernels and all(not torch.equal(untrained[k], critic[k]) for k in kernels)


def test_resume_continues_exactly_where_training_stopped(tmp_path, monkeypatch, capsys):
    photos = photo_folder(tmp_path / "photos", n=6)
    opts = dict(model="unet", data=[photos], steps=6, checkpoint_every=3, **TINY)
    train(TrainOptions(out=tmp_path / "straight", **opts))

    _stopped_by_ctrl_c_after(4, monkeypatch, TrainOptions(out=tmp_path / "stopped", **opts))
    # checkpoints every 3 steps, and the step since is kept as Ctrl-C stops it
    assert int(torch.load(tmp_path / "stopped" / "checkpoint.pt", weights_only=True)["step"]) == 4
    assert "stopped at step 4: its checkpoint is kept" in capsys.readouterr().err
    train(TrainOptions(out=tmp_path / "stopped", resume=True, **opts))
    assert "resumed with" not in capsys.readouterr().err  # the same options: nothing to say
    _assert_same_weights(tmp_path / "straight", tmp_path / "stopped")


def test_a_run_resumed_with_another_learning_rate_learns_at_it(tmp_path, capsys):
    """After a run diverged, the advice "resume it with a lower --lr" did nothing: the optimiser's state, loaded
    from the checkpoint, brought the old one back, though a warning said the new one was taken."""
    photos = photo_folder(tmp_path / "photos", n=6)
    opts = dict(model="unet", data=[photos], checkpoint_every=2, **TINY)
    train(TrainOptions(out=tmp_path / "first", steps=2, **opts))
    (tmp_path / "still").mkdir()
    for name in ("checkpoint.pt", "last.safetensors"):
        (tmp_path / "still" / name).write_bytes((tmp_path / "first" / name).read_bytes())
    before = {k: v for k, v in read_weights(tmp_path / "first" / "last.safetensors").items()
              if "running_" not in k and "num_batches" not in k}  # what learns, not what is counted
    train(TrainOptions(out=tmp_path / "still", steps=4, resume=True, **opts | {"lr": 1e-12}))
    assert "resumed with --lr 1e-12" in capsys.readouterr().err
    after = read_weights(tmp_path / "still" / "last.safetensors")
    assert all(torch.allclose(before[k].float(), after[k].float(), atol=1e-6) for k in before)  # barely moved
    train(TrainOptions(out=tmp_path / "first", steps=4, resume=True, **opts))
    moved = read_weights(tmp_path / "first" / "last.safetensors")
    assert not all(torch.allclose(before[k].float(), moved[k].float(), atol=1e-6) for k in before)


def test_a_run_stopped_in_its_last_validation_is_finished_by_resume(tmp_path, monkeypatch):
    """Its last step was done, so --resume refused ("has done 4 steps already"), and its weights were kept with the
    scores of the step before."""
    photos = photo_folder(tmp_path / "photos", n=6)
    opts = dict(model="unet", data=[photos], val=[photos], out=tmp_path / "run", steps=4, checkpoint_every=2,
                val_every=2, **TINY)
    _stopped_at(monkeypatch, "_validate_all", 4, TrainOptions(**opts))  # in the last validation
    assert read_metadata(tmp_path / "run" / "last.safetensors")["val_step"] == 2  # what its scores are of
    train(TrainOptions(resume=True, **opts))
    assert [row["step"] for row in _metrics(tmp_path / "run")] == [2, 4]
    assert read_metadata(tmp_path / "run" / "last.safetensors")["val_step"] == 4


def test_a_stop_during_the_validation_before_a_checkpoint_keeps_that_checkpoint(tmp_path, monkeypatch, capsys):
    """The validation at step 2 comes before step 2's checkpoint is written: a Ctrl-C there lost it."""
    photos = photo_folder(tmp_path / "photos", n=6)

    def ctrl_c(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(train_module, "_validate_all", ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        train(TrainOptions(model="unet", data=[photos], val=[photos], out=tmp_path / "run", steps=4,
                           checkpoint_every=2, val_every=2, **TINY))
    assert int(torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)["step"]) == 2
    assert "stopped at step 2: its checkpoint is kept" in capsys.readouterr().err


def test_a_stop_in_the_middle_of_a_step_lets_the_step_end_so_resume_continues_exactly(tmp_path, monkeypatch):
    """Stopped between the model's pass (which moves its normalisation statistics) and the optimiser's step, the
    checkpoint held the weights of one step and the statistics of the next, and --resume did that step again."""
    photos = photo_folder(tmp_path / "photos", n=6)
    opts = dict(model="unet", data=[photos], steps=5, checkpoint_every=10, **TINY)
    train(TrainOptions(out=tmp_path / "straight", **opts))
    real_step, calls = torch.optim.AdamW.step, []

    def ctrl_c_in_step_3(self: torch.optim.Optimizer, *args: object, **kwargs: object) -> object:
        calls.append(1)
        if len(calls) == 3:
            signal.raise_signal(signal.SIGINT)
        return real_step(self, *args, **kwargs)

    with monkeypatch.context() as patched:
        patched.setattr(torch.optim.AdamW, "step", ctrl_c_in_step_3)
        previous = signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            with pytest.raises(KeyboardInterrupt):
                train(TrainOptions(out=tmp_path / "stopped", **opts))
        finally:
            signal.signal(signal.SIGINT, previous)
    assert int(torch.load(tmp_path / "stopped" / "checkpoint.pt", weights_only=True)["step"]) == 3
    train(TrainOptions(out=tmp_path / "stopped", resume=True, **opts))
    _assert_same_weights(tmp_path / "straight", tmp_path / "stopped")


def _stopped_by_ctrl_c_after(steps: int, monkeypatch: pytest.MonkeyPatch, opts: TrainOptions) -> None:
    """Train until Ctrl-C arrives as the batch after `steps` is being made."""
    real_make_batch, calls = train_module.make_batch, []

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) > steps:
            raise KeyboardInterrupt
        return real_make_batch(*args, **kwargs)

    monkeypatch.setattr(train_module, "make_batch", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train(opts)
    monkeypatch.setattr(train_module, "make_batch", real_make_batch)


def _assert_same_weights(run: Path, other: Path) -> None:
    straight = load_file(str(run / "last.safetensors"))
    resumed = load_file(str(other / "last.safetensors"))
    assert straight.keys() == resumed.keys()
    for key in straight:
        torch.testing.assert_close(resumed[key], straight[key], rtol=0, atol=1e-6)


def test_a_run_that_diverges_stops_in_one_line_and_keeps_only_sound_checkpoints(tmp_path):
    photos = photo_folder(tmp_path / "photos", n=6)
    run = tmp_path / "run"
    with pytest.raises(UserError, match=r"the run diverged at step \d+ .*a learning rate too high.*lower --lr"):
        train(TrainOptions(model="unet", data=[photos], out=run, steps=30, checkpoint_every=1, **TINY | {"lr": 1e6}))
    if (run / "last.safetensors").exists():  # the steps before it went wrong: no NaN in them
        load_model(str(run / "last.safetensors"))


def test_weights_a_diverged_run_left_are_neither_exported_nor_trained_from(tmp_path):
    photos = photo_folder(tmp_path / "photos", n=6)
    train(TrainOptions(model="unet", data=[photos], out=tmp_path / "run", steps=2, **TINY))
    last = tmp_path / "run" / "last.safetensors"
    broken = {k: torch.full_like(v, torch.nan) if v.is_floating_point() else v for k, v in read_weights(last).items()}
    write_weights_file(last, broken, read_metadata(last), replace=True)
    result = CliRunner().invoke(main, ["export", str(tmp_path / "run"), "-o", str(tmp_path / "m.safetensors")])
    assert result.exit_code == 1 and "NaN or infinite" in result.stderr
    assert not (tmp_path / "m.safetensors").exists()
    for start in ("--init", "--continue-from", "--teacher"):  # not "the run diverged at step 1: lower --lr"
        _one_clear_line(_run_here(["train", "--model", "unet", "--width", "8", "--data", str(photos), start, str(last),
                                  "--steps", "4", "--out", str(tmp_path / "again")]),
                        f"{last}: its weights hold NaN or infinite values")
        assert not (tmp_path / "again").exists()


def test_an_export_onto_an_existing_file_is_refused_before_the_weights_are_read(tmp_path):
    photos = photo_folder(tmp_path / "photos", n=6)
    train(TrainOptions(model="unet", data=[photos], out=tmp_path / "run", steps=2, **TINY))
    last = tmp_path / "run" / "last.safetensors"
    last.write_bytes(last.read_bytes()[:100])  # weights that cannot be read: not reached
    (tmp_path / "m.safetensors").write_text("mine")
    result = CliRunner().invoke(main, ["export", str(tmp_path / "run"), "-o", str(tmp_path / "m.safetensors")])
    assert result.exit_code == 1 and "already exists (use --overwrite" in result.stderr
    assert (tmp_path / "m.safetensors").read_text() == "mine"


def test_export_then_run_uses_the_trained_weights(tmp_path):
    photos = photo_folder(tmp_path / "photos", n=6)
    runner = CliRunner()
    result = runner.invoke(main, ["train", "--model", "unet", "--data", str(photos), "--out", str(tmp_path / "run"),
                                  "--steps", "4", "--size", "32", "--batch-size", "2", "--width", "8", "--quiet"])
    assert result.exit_code == 0, result.output
    exported = tmp_path / "tiny.safetensors"
    named_by_file = runner.invoke(main, ["export", str(tmp_path / "run" / "last.safetensors"), "-o", str(exported)])
    assert named_by_file.exit_code == 1 and f"give the run's folder, {tmp_path / 'run'}, not its file" in \
        named_by_file.stderr
    result = runner.invoke(main, ["export", str(tmp_path / "run"), "-o", str(exported)])
    assert result.exit_code == 0, result.output
    meta = read_metadata(exported)
    assert meta["family"] == "unet" and meta["steps"] == 4 and meta["arch"] == {"width": 8}
    umask = os.umask(0)
    os.umask(umask)
    for weights in (exported, tmp_path / "run" / "last.safetensors"):  # readable as any new file, for a team
        assert weights.stat().st_mode & 0o777 == 0o666 & ~umask

    model, _ = load_model(str(exported))
    trained = load_file(str(tmp_path / "run" / "last.safetensors"))
    for key, value in model.state_dict().items():
        torch.testing.assert_close(value, trained[key])

    photo = tmp_path / "grey.png"
    write_image(photo, landscape(99, 37, 53))
    result = runner.invoke(main, ["run", str(photo), "-o", str(tmp_path / "out.png"), "--model", str(exported)])
    assert result.exit_code == 0, result.output
    assert read_image(tmp_path / "out.png").shape == (37, 53, 3)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_process_ddp_training_on_cpu(tmp_path):
    photos = photo_folder(tmp_path / "photos", n=8)
    run = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", f"--master-port={_free_port()}",
           "-m", "vidcolor", "train", "--model", "unet", "--data", str(photos), "--out", str(run), "--steps", "4",
           "--size", "32", "--batch-size", "2", "--width", "8", "--threads", "1", "--quiet"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert read_metadata(run / "last.safetensors")["batch_size"] == 4


def _run_cli(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vidcolor", *args], capture_output=True, text=True, timeout=120)


def _run_here(args: list[str]) -> subprocess.CompletedProcess:
    """As _run_cli, without starting Python and torch again: for refusals made before any training."""
    result = CliRunner().invoke(main, args)
    return subprocess.CompletedProcess(args, result.exit_code, result.stdout, result.stderr)


def _one_clear_line(done: subprocess.CompletedProcess, expected: str) -> None:
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert expected in lines[0]


def test_training_on_a_missing_folder_says_so_and_leaves_no_run_folder(tmp_path):
    _one_clear_line(_run_here(["train", "--model", "unet", "--data", str(tmp_path / "nope"), "--out",
                              str(tmp_path / "run")]), "no such folder")
    assert not (tmp_path / "run").exists()


def test_a_file_where_the_run_folder_should_go_is_refused_in_one_line(tmp_path):
    photos = photo_folder(tmp_path / "photos", n=2)
    (tmp_path / "run").write_text("my notes")
    _one_clear_line(_run_here(["train", "--model", "unet", "--data", str(photos), "--out", str(tmp_path / "run")]),
                    "is a file, where the output folder should be")
    _one_clear_line(_run_here(["train", "--model", "unet", "--data", str(photos), "--out",
                               str(tmp_path / "run" / "a")]),
                    f"cannot make the folder ({tmp_path / 'run'} is a file)")
    assert (tmp_path / "run").read_text() == "my notes"


def test_a_run_folder_inside_the_photos_it_learns_or_is_scored_from_is_refused(tmp_path):
    """Its sample grids would be read as photos by the next run."""
    photos = photo_folder(tmp_path / "photos", n=2)
    before = sorted(p.name for p in photos.iterdir())
    for given in (["--data", str(photos)], ["--data", str(photo_folder(tmp_path / "more", n=2)), "--val", str(photos)]):
        for out in (photos, photos / "run"):
            _one_clear_line(_run_here(["train", "--model", "unet", *given, "--out", str(out)]),
                            f"the run's folder must not be inside a folder it learns or is scored from ({photos})")
    assert sorted(p.name for p in photos.iterdir()) == before
    hidden = _run_cli(["train", "--model", "unet", "--data", str(photos), "--out", str(photos / ".run"), "--steps",
                       "1", "--size", "32", "--width", "4", "--batch-size", "2", "--quiet"])  # never read as photos
    assert hidden.returncode == 0, hidden.stderr


def test_training_on_a_folder_without_images_says_so(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "notes.txt").write_text("not a photo")
    _one_clear_line(_run_here(["train", "--model", "unet", "--data", str(tmp_path / "data"), "--out",
                              str(tmp_path / "run")]), "no images")


def test_training_skips_an_unreadable_file_and_names_it(tmp_path):
    photos = photo_folder(tmp_path / "photos", n=4)
    (photos / "broken.jpg").write_bytes(b"\xff\xd8 this is not really a jpeg")
    (photos / "moved.jpg").symlink_to(tmp_path / "a drive no longer mounted" / "moved.jpg")
    result = _run_cli(["train", "--model", "unet", "--width", "8", "--size", "32", "--batch-size", "2", "--steps",
                       "1", "--data", str(photos), "--out", str(tmp_path / "run"), "--quiet"])
    assert result.returncode == 0 and "skipped broken.jpg" in result.stderr, result.stderr
    assert "skipped moved.jpg: a link that leads to no file" in result.stderr
    assert read_metadata(tmp_path / "run" / "last.safetensors")["images"] == 4


def test_a_folder_named_twice_is_read_once(tmp_path):
    from vidcolor.training.data import load_images

    photos = photo_folder(tmp_path / "photos", n=3)
    assert len(load_images([photos, Path(f"{photos}/"), photos / "."], 10, 256)) == 3


def test_a_folder_given_beside_one_inside_it_reads_each_photo_once(tmp_path):
    """`--data scans --data scans/portraits`: the portraits were read, and drawn, twice."""
    from vidcolor.training.data import load_images

    photos = photo_folder(tmp_path / "scans", n=2)
    photo_folder(photos / "portraits", n=3)
    assert len(load_images([photos, photos / "portraits"], 10, 256)) == 5


def test_training_only_on_black_and_white_photos_is_refused(tmp_path):
    photos = tmp_path / "bw"
    photos.mkdir()
    write_image(photos / "grey.png", np.repeat(landscape(0)[..., 1:2], 3, axis=2))
    _one_clear_line(_run_here(["train", "--model", "unet", "--data", str(photos), "--out",
                              str(tmp_path / "run")]), "no colour images")


def test_black_and_white_photos_among_the_data_are_left_out_with_a_warning(tmp_path, capsys):
    photos = photo_folder(tmp_path / "photos", n=2)
    write_image(photos / "grey.png", np.repeat(landscape(0)[..., 1:2], 3, axis=2))
    assert len(load_images([photos], frame_stride=1, max_short=64).images) == 2
    assert capsys.readouterr().err.splitlines()[-1] == ("vidcolor: warning: skipped 1 black-and-white image "
                                                        "(no colour to learn from)")


def test_starting_from_weights_of_another_shape_is_refused_and_leaves_no_run_folder(tmp_path):
    photos = photo_folder(tmp_path / "photos", n=4)
    train(TrainOptions(model="unet", data=[photos], out=tmp_path / "narrow", steps=1, **TINY))
    _one_clear_line(_run_here(["train", "--model", "unet", "--width", "16", "--data", str(photos),
                              "--init", str(tmp_path / "narrow" / "last.safetensors"), "--out",
                              str(tmp_path / "run")]), "was trained with --width 8; give the same")
    assert not (tmp_path / "run").exists()


def test_a_backbone_that_does_not_exist_is_refused_in_one_line(tmp_path):
    photos = photo_folder(tmp_path / "photos", n=2)
    _one_clear_line(_run_here(["train", "--model", "fusion", "--backbones", "lite9", "--data", str(photos), "--out",
                              str(tmp_path / "run")]), "backbones must be a comma list of lite0, lite1, lite2")
    _one_clear_line(_run_here(["train", "--model", "fusion", "--tune-backbone", "9", "--data", str(photos), "--out",
                              str(tmp_path / "run")]), "--tune-backbone goes up to 5, every stage of lite0")


def test_options_of_the_binned_head_are_refused_for_another_loss(tmp_path):
    photos = photo_folder(tmp_path / "photos", n=2)
    _one_clear_line(_run_here(["train", "--model", "fusion", "--temperature", "0.5", "--data", str(photos), "--out",
                              str(tmp_path / "run")]), "apply only to --loss bins")


def test_a_binned_head_is_refused_for_a_family_without_one(tmp_path):
    photos = photo_folder(tmp_path / "photos", n=2)
    _one_clear_line(_run_here(["train", "--model", "unet", "--loss", "bins", "--data", str(photos), "--out",
                              str(tmp_path / "run")]), "needs --model fusion")


@pytest.mark.parametrize("option", [["--ab-bins", "1"], ["--temperature", "0"], ["--steps", "0"], ["--epochs", "0"],
                                    ["--batch-size", "0"], ["--size", "0"], ["--lr", "-1"], ["--width", "0"],
                                    ["--threads", "-1"], ["--rebalance", "2"], ["--group-weight", "davis=0"],
                                    ["--group-weight", "davis=x"], ["--group-weight", "davis"],
                                    ["--group-weight", "davis=2", "--group-weight", "davis=3"],
                                    ["--seed", "99999999999999999999"], ["--size", "100000"],  # were tracebacks
                                    ["--batch-size", "1000000"]])
def test_impossible_numbers_are_usage_errors(tmp_path, option):
    result = CliRunner().invoke(main, ["train", "--model", "fusion", "--data", str(tmp_path), "--out",
                                       str(tmp_path / "run"), *option])
    assert result.exit_code == 2 and option[0] in result.output and "Traceback" not in result.output
    assert not (tmp_path / "run").exists()


def test_a_script_training_with_impossible_numbers_is_refused_as_the_command_line_refuses_them(tmp_path):
    photos = photo_folder(tmp_path / "photos", n=4)
    for mistake, said in (({"seed": 2 ** 64}, "--seed 18446744073709551616: give a whole number from -4294967296 to"),
                          ({"size": 100_000}, "--size 100000: give a whole number from 32 to 1024")):
        with pytest.raises(UserError, match=re.escape(said)):
            train(TrainOptions(model="unet", data=[photos], out=tmp_path / "run", steps=1, **{**TINY, **mistake}))
        assert not (tmp_path / "run").exists()


def test_more_threads_than_cores_are_held_to_the_cores(tmp_path, monkeypatch):
    """--threads 100000 was a traceback: threads that could not be started."""
    threads: list[int] = []
    monkeypatch.setattr(torch, "set_num_threads", threads.append)
    photos = photo_folder(tmp_path / "photos", n=4)
    result = CliRunner().invoke(main, ["train", "--model", "unet", "--data", str(photos), "--out",
                                       str(tmp_path / "run"), "--steps", "1", "--size", "32", "--width", "8",
                                       "--threads", "100000", "--quiet"])
    cores = os.cpu_count()
    assert result.exit_code == 0 and threads == [cores], result.output
    assert f"--threads 100000: this machine has {cores} CPU cores; using {cores}" in result.stderr


def test_a_run_resumed_with_other_options_says_which(tmp_path, capsys):
    photos = photo_folder(tmp_path / "photos", n=4)
    train(TrainOptions(model="unet", data=[photos], val=[photos], out=tmp_path / "run", steps=1, epochs=1, **TINY))
    capsys.readouterr()
    train(TrainOptions(model="unet", data=[photos], out=tmp_path / "run", steps=2, resume=True,
                       group_weights={"photos": 2.0}, seed=1, **TINY))
    said = capsys.readouterr().err
    assert f"resumed with --val none (its checkpoint was made with {photos})" in said and "--steps 2" in said
    assert "resumed with --group-weight photos=2.0 (its checkpoint was made with none)" in said
    assert "resumed with --seed 1 (its checkpoint was made with 0)" in said  # other batches from here on
    assert "--epochs" not in said  # --steps says how long the run is
    with pytest.raises(UserError, match="the run has done 2 steps already; give more --steps to continue it"):
        train(TrainOptions(model="unet", data=[photos], out=tmp_path / "run", steps=2, resume=True, **TINY))


def test_a_folder_holding_a_run_is_not_trained_over_without_resume(tmp_path):
    photos = photo_folder(tmp_path / "photos", n=4)
    train(TrainOptions(model="unet", data=[photos], out=tmp_path / "run", steps=1, **TINY))
    before = (tmp_path / "run" / "last.safetensors").read_bytes()
    with pytest.raises(UserError, match="holds a training run already"):
        train(TrainOptions(model="unet", data=[photos], out=tmp_path / "run", steps=2, **TINY))
    assert (tmp_path / "run" / "last.safetensors").read_bytes() == before


def test_a_fresh_run_never_writes_over_files_already_in_its_folder(tmp_path):
    """A user's own metrics.csv and curves.png, in a folder given as --out, were replaced without a word; a folder
    holding weights but no checkpoint was told to --resume, which then found nothing to resume."""
    photos = photo_folder(tmp_path / "photos", n=4)
    mine = tmp_path / "notes"
    mine.mkdir()
    (mine / "metrics.csv").write_text("date,reel,notes\n")
    (mine / "curves.png").write_bytes(b"my plot")
    with pytest.raises(UserError, match=re.escape(f"{mine / 'curves.png'}: a training run would write over it")):
        train(TrainOptions(model="unet", data=[photos], out=mine, steps=1, **TINY))
    assert (mine / "metrics.csv").read_text() == "date,reel,notes\n"
    assert (mine / "curves.png").read_bytes() == b"my plot"
    train(TrainOptions(model="unet", data=[photos], out=tmp_path / "run", steps=1, **TINY))
    (tmp_path / "run" / "checkpoint.pt").unlink()
    with pytest.raises(UserError, match=re.escape("no checkpoint to resume (start from them with --continue-from")):
        train(TrainOptions(model="unet", data=[photos], out=tmp_path / "run", steps=2, **TINY))


def test_a_run_scored_on_its_own_training_photos_says_so(tmp_path, capsys):
    photos = photo_folder(tmp_path / "photos", n=4)
    train(TrainOptions(model="unet", data=[photos], val=[photos], out=tmp_path / "run", steps=1, **TINY))
    assert f"--val {photos} and --data {photos} share photos" in capsys.readouterr().err


def test_a_second_run_into_a_folder_a_run_is_training_in_is_refused(tmp_path):
    photos = photo_folder(tmp_path / "photos", n=4)
    (tmp_path / "run").mkdir()
    with lock_folder(tmp_path / "run"):  # as the first run holds it
        with pytest.raises(UserError, match="run: another vidcolor run is writing into this folder"):
            train(TrainOptions(model="unet", data=[photos], out=tmp_path / "run", steps=2, **TINY))
    assert os.listdir(tmp_path / "run") == [LOCK_NAME]
    train(TrainOptions(model="unet", data=[photos], out=tmp_path / "run", steps=2, **TINY))  # once it has ended


def test_a_run_stopped_before_its_first_checkpoint_can_start_afresh(tmp_path):
    photos = photo_folder(tmp_path / "photos", n=4)
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / LOCK_NAME).touch()  # the folder was a run's
    append_csv(tmp_path / "run" / "metrics.csv", {"step": 5, "psnr": 20.0})  # validated, then stopped
    train(TrainOptions(model="unet", data=[photos], out=tmp_path / "run", steps=1, **TINY))
    assert (tmp_path / "run" / "last.safetensors").exists()


def test_a_resumed_run_logs_each_validation_step_once(tmp_path):
    for step in (2, 4, 6, 4, 6):  # validated up to step 6, stopped, resumed from the step-3 checkpoint
        append_csv(tmp_path / "metrics.csv", {"step": step, "psnr": 20.0 + step})
    assert [row["step"] for row in read_csv(tmp_path / "metrics.csv")] == [2, 4, 6]
    assert [line.split(",")[0] for line in (tmp_path / "metrics.csv").read_text().splitlines()] == ["step", "2", "4",
                                                                                                "6"]


def test_a_damaged_checkpoint_is_one_line_not_a_traceback(tmp_path):
    photos = photo_folder(tmp_path / "photos", n=4)
    train(TrainOptions(model="unet", data=[photos], out=tmp_path / "run", steps=1, **TINY))
    (tmp_path / "run" / "checkpoint.pt").write_bytes(b"PK\x03\x04 cut short")
    with pytest.raises(UserError, match="damaged, or not a vidcolor checkpoint"):
        train(TrainOptions(model="unet", data=[photos], out=tmp_path / "run", steps=2, resume=True, **TINY))
    torch.save({"model": PurePosixPath("a pickled object")}, tmp_path / "run" / "checkpoint.pt")  # not ours
    with pytest.raises(UserError) as refused:
        train(TrainOptions(model="unet", data=[photos], out=tmp_path / "run", steps=2, resume=True, **TINY))
    assert str(refused.value) == f"{tmp_path / 'run' / 'checkpoint.pt'}: damaged, or not a vidcolor checkpoint"


def test_balanced_sampling_keeps_a_big_group_from_drowning_a_small_one():
    data = TrainingSet(images=[np.zeros((4, 4, 3), np.uint8)] * 104, groups=["scene"] * 100 + ["face"] * 4)
    weights = data.sampling_weights("prefix")
    share = {g: float(weights[[i for i, x in enumerate(data.groups) if x == g]].sum() / weights.sum())
             for g in ("scene", "face")}
    assert share["face"] == pytest.approx(2 / 12)  # sqrt(4) : sqrt(100), rather than 4 : 100
    assert torch.equal(data.sampling_weights("none"), torch.ones(104, dtype=torch.float64))


def test_a_group_given_weight_3_is_drawn_three_times_as_often():
    data = TrainingSet(images=[np.zeros((4, 4, 3), np.uint8)] * 104, groups=["scene"] * 100 + ["davis"] * 4)
    plain, weighted = data.sampling_weights("prefix"), data.sampling_weights("prefix", {"davis": 3.0})
    assert torch.equal(weighted[:100], plain[:100]) and torch.equal(weighted[100:], 3 * plain[100:])
    assert torch.equal(data.sampling_weights("none", {"davis": 3.0})[100:], torch.full((4,), 3.0, dtype=torch.float64))


def test_a_misspelt_group_weight_is_refused_naming_the_groups_there_are(tmp_path):
    photos = photo_folder(tmp_path / "photos", n=2)
    with pytest.raises(UserError, match=r"--group-weight davs: no such group in the data \(its groups: photos\)"):
        train(TrainOptions(model="unet", data=[photos], out=tmp_path / "run", steps=1, group_weights={"davs": 3.0},
                           **TINY))
    assert not (tmp_path / "run").exists()


def test_groups_come_from_the_file_names_prefix_or_else_the_folder():
    assert group_of(Path("extra/portrait_3f2a.webp"), "prefix") == "portrait"
    assert group_of(Path("train/sunset.jpg"), "prefix") == "train"
    assert group_of(Path("extra/portrait_3f2a.webp"), "folder") == "extra"


def test_training_on_two_folders_balances_them_by_prefix(tmp_path):
    scenes = photo_folder(tmp_path / "scenes", n=8)
    faces = tmp_path / "faces"
    faces.mkdir()
    for i in range(2):
        write_image(faces / f"face_{i}.png", landscape(50 + i))
    train(TrainOptions(model="unet", data=[scenes, faces], out=tmp_path / "run", steps=1, balance="prefix", **TINY))
    assert read_metadata(tmp_path / "run" / "last.safetensors")["groups"] == {"face": 2, "photo": 8}


def test_color_films_validate_as_a_table_of_their_own(tmp_path):
    photos = photo_folder(tmp_path / "photos", n=4)
    films = tmp_path / "films"
    films.mkdir()
    make_clip(films / "street.mp4", frames=20, color=True, audio=())
    run = tmp_path / "run"
    (tmp_path / "alias").symlink_to(films)
    train(TrainOptions(model="unet", data=[photos], val=[photos, films, tmp_path / "alias"], out=run, steps=2,
                       val_every=2, frame_stride=5, **TINY))  # a folder named twice is one table
    row = _metrics(run)[-1]
    assert {"photos/psnr", "films/psnr", "films/colourfulness", "films/ab_mse"} <= row.keys()
    assert not any(key.startswith("films3/") for key in row)
    assert read_metadata(run / "last.safetensors")["val"].keys() == {"photos", "films"}
    assert (run / "samples-films.png").is_file() and (run / "samples-photos.png").is_file()


def test_a_run_whose_folder_is_gone_continues_from_its_exported_weights(tmp_path, monkeypatch):
    photos = photo_folder(tmp_path / "photos", n=6)
    opts = dict(model="fusion", data=[photos], steps=8, **TINY)
    train(TrainOptions(out=tmp_path / "first", keep_weights=True, checkpoint_every=2, **{**opts, "steps": 4}))
    exported = tmp_path / "first" / "last.safetensors"
    assert read_metadata(exported)["steps"] == 4
    assert read_metadata(tmp_path / "first" / "weights-2.safetensors")["steps"] == 2  # kept along the way
    train(TrainOptions(out=tmp_path / "later", continue_from=exported, **opts))
    state = torch.load(tmp_path / "later" / "checkpoint.pt", weights_only=True)
    assert int(state["step"]) == 8 and state["scheduler"]["last_epoch"] == 8  # the schedule went on from 4
    assert read_metadata(tmp_path / "later" / "last.safetensors")["steps"] == 8
    monkeypatch.setattr(train_module, "load_images", None)  # refused before the photos are read: not called
    with pytest.raises(UserError, match="trained 4 steps already"):
        train(TrainOptions(out=tmp_path / "again", continue_from=exported, **{**opts, "steps": 4}))


def test_a_run_resumed_with_a_larger_batch_counts_its_epochs_on_from_the_photos_it_has_seen(tmp_path):
    photos = photo_folder(tmp_path / "photos", n=8)
    opts = dict(model="unet", data=[photos], val=[photos], out=tmp_path / "run", val_every=2, **TINY)
    train(TrainOptions(steps=4, **opts))  # 4 steps of 4 photos: two epochs of 8
    train(TrainOptions(steps=6, resume=True, **{**opts, "batch_size": 8}))  # 2 steps of 8: two more
    assert [row["epoch"] for row in _metrics(tmp_path / "run")] == [1, 2, 4]  # at steps 2, 4 and 6


def test_a_continued_run_stopped_while_warming_up_again_resumes_at_the_learning_rate_it_had(tmp_path, monkeypatch):
    """Resumed, it went on at the full peak at once: a resume forgot where the continued run had started."""
    photos = photo_folder(tmp_path / "photos", n=6)
    train(TrainOptions(model="unet", data=[photos], out=tmp_path / "first", steps=4, **TINY))
    opts = dict(model="unet", data=[photos], val=[photos], steps=40, val_every=2, **TINY)
    rates: dict[Path, dict[int, float]] = {tmp_path / "straight": {}, tmp_path / "stopped": {}}
    stops = [6]  # the stopped run's, once
    step, validate = train_module.train_step, train_module._validate_all

    def noting(run: object, L_in: object, ab: object, opts: TrainOptions, *args: object) -> float:
        rates[opts.out][run.step] = run.opt.param_groups[0]["lr"]
        return step(run, L_in, ab, opts, *args)

    def stopping(run: object, sets: object, opts: TrainOptions, *args: object) -> object:
        if opts.out.name == "stopped" and run.step in stops:
            stops.remove(run.step)
            raise KeyboardInterrupt
        return validate(run, sets, opts, *args)

    monkeypatch.setattr(train_module, "train_step", noting)
    monkeypatch.setattr(train_module, "_validate_all", stopping)
    continued = tmp_path / "first" / "last.safetensors"
    train(TrainOptions(out=tmp_path / "straight", continue_from=continued, **opts))
    with pytest.raises(KeyboardInterrupt):
        train(TrainOptions(out=tmp_path / "stopped", continue_from=continued, **opts))
    train(TrainOptions(out=tmp_path / "stopped", resume=True, **opts))
    straight, stopped = rates.values()
    assert stopped == pytest.approx(straight)
    assert straight[4] < straight[5] < straight[6] < 0.7 * opts["lr"]  # still warming up at the stop


def test_a_run_killed_after_a_validation_past_its_checkpoint_does_not_count_those_seconds_twice(tmp_path):
    """The resumed run's clock went on from the killed run's last row, whose steps it then did again."""
    photos = photo_folder(tmp_path / "photos", n=4)
    opts = dict(model="unet", data=[photos], val=[photos], out=tmp_path / "run", val_every=2, checkpoint_every=4,
                **TINY)
    train(TrainOptions(steps=4, **opts))
    last = _metrics(tmp_path / "run")[-1]
    append_csv(tmp_path / "run" / "metrics.csv", {**last, "step": 6, "seconds": last["seconds"] + 1000})  # killed
    train(TrainOptions(steps=6, resume=True, **opts))
    assert _metrics(tmp_path / "run")[-1]["seconds"] < last["seconds"] + 1000


def test_a_run_stopped_and_resumed_between_validations_logs_the_training_loss_of_all_their_steps(tmp_path,
                                                                                                  monkeypatch):
    """The row after a resume averaged only the steps since the resume."""
    photos = photo_folder(tmp_path / "photos", n=4)
    opts = dict(model="unet", data=[photos], val=[photos], steps=6, val_every=3, checkpoint_every=1, **TINY)
    train(TrainOptions(out=tmp_path / "straight", **opts))
    _stopped_at(monkeypatch, "train_step", 4, TrainOptions(out=tmp_path / "stopped", **opts))  # before step 5
    train(TrainOptions(out=tmp_path / "stopped", resume=True, **opts))
    straight, stopped = (_metrics(tmp_path / run) for run in ("straight", "stopped"))
    assert [row["train_loss"] for row in stopped] == pytest.approx([row["train_loss"] for row in straight])


def test_a_run_stopped_before_its_first_validation_goes_on_counting_its_seconds_from_the_stop(tmp_path, monkeypatch):
    """Resumed, it counted from its last row in metrics.csv (none here), losing the time of the steps before."""
    photos = photo_folder(tmp_path / "photos", n=4)
    opts = dict(model="unet", data=[photos], val=[photos], out=tmp_path / "run", steps=6, val_every=6, **TINY)
    step = train_module.train_step

    def slow(run: object, *args: object) -> float:
        time.sleep(1)
        return step(run, *args)

    monkeypatch.setattr(train_module, "train_step", slow)
    _stopped_at(monkeypatch, "train_step", 3, TrainOptions(**opts))
    monkeypatch.setattr(train_module, "train_step", step)
    train(TrainOptions(resume=True, **opts))
    assert _metrics(tmp_path / "run")[-1]["seconds"] >= 3  # the three slow steps before the stop


def test_a_continued_run_warms_up_again_and_then_follows_the_cosine():
    schedule = train_module._lr_lambda(1000, 100, start=500)
    fresh = train_module._lr_lambda(1000, 100)
    assert schedule(500) == pytest.approx(fresh(500) / 100)
    assert schedule(650) == pytest.approx(fresh(650))


def test_the_shipped_hint_model_is_a_start_for_training_an_automatic_model_which_leaves_its_branch(tmp_path):
    shipped = write_tiny_hint_model(tmp_path / "hinted.safetensors")
    train(TrainOptions(model="fusion", data=[photo_folder(tmp_path / "photos", n=4)], out=tmp_path / "run", steps=1,
                       init=shipped, **TINY))
    trunk = load_file(tmp_path / "run" / "last.safetensors")
    assert trunk and not any(name.startswith("hint_") for name in trunk)
    assert trunk.keys() == {k for k in load_file(shipped) if not k.startswith("hint_")}


def test_a_model_grown_at_stride_8_starts_as_the_smaller_one_it_grew_from_then_learns(tmp_path):
    photos = photo_folder(tmp_path / "photos", n=4)
    small = tmp_path / "small" / "last.safetensors"
    train(TrainOptions(model="fusion", data=[photos], out=small.parent, steps=2, **TINY))
    grown = build_model("fusion", width=8, blocks8=2).eval()
    assert load_trainable_state(grown, load_file(small), optional=(BLOCKS8_PREFIX,))
    L = torch.rand(1, 1, 64, 96) * 100
    with torch.no_grad():
        torch.testing.assert_close(grown(L), load_model(str(small))[0](L), rtol=0, atol=0)

    train(TrainOptions(model="fusion", data=[photos], out=tmp_path / "grown", steps=2, blocks8=2, init=small, **TINY))
    model, meta = load_model(str(tmp_path / "grown" / "last.safetensors"))
    assert meta["arch"]["blocks8"] == 2 and "blocks8" not in read_metadata(small)["arch"]
    assert any(not torch.equal(p, torch.zeros_like(p)) for p in model.blocks8[-1].body[-1].parameters())
    with pytest.raises(UserError, match="started with --blocks8 2; resume it with the same"):
        train(TrainOptions(model="fusion", data=[photos], out=tmp_path / "grown", steps=3, resume=True, **TINY))


def test_a_faster_decoder_is_trained_on_a_model_whose_other_layers_stay_as_they_were(tmp_path):
    photos = photo_folder(tmp_path / "photos", n=4)
    full = tmp_path / "full" / "last.safetensors"
    train(TrainOptions(model="fusion", data=[photos], out=full.parent, steps=2, tune_backbone=1, **TINY))
    light = tmp_path / "light"
    train(TrainOptions(model="fusion", data=[photos], val=[photos], out=light, steps=2, light_decoder=True, init=full,
                       train_layers="up4,up2,head", tune_backbone=1, **TINY))
    before, after = load_file(full), load_file(light / "last.safetensors")
    kept = [k for k in before if not k.startswith(("up4.", "up2.", "head."))]
    assert any(k.startswith("backbones.") for k in kept)  # its tuned backbone stage is kept in its file too
    assert kept and all(torch.equal(before[k], after[k]) for k in kept)  # BatchNorm statistics too
    load_model(str(light / "last.safetensors"))
    assert not torch.equal(before["head.weight"], after["head.weight"])
    assert "up4.coarse.weight" in after and "up4.conv.0.0.weight" not in after
    meta = read_metadata(light / "last.safetensors")
    assert meta["arch"]["light_decoder"] is True and meta["trained_layers"] == "up4,up2,head"
    with pytest.raises(UserError, match="has no layer decoder"):
        train(TrainOptions(model="fusion", data=[photos], out=tmp_path / "typo", steps=1, init=full,
                           train_layers="decoder", tune_backbone=1, **TINY))
    with pytest.raises(UserError, match="blocks8: nothing in these layers learns"):
        train(TrainOptions(model="fusion", data=[photos], out=tmp_path / "none", steps=1, init=full,
                           train_layers="blocks8", tune_backbone=1, **TINY))
    with pytest.raises(UserError, match="was trained with --light-decoder; give the same to start from it"):
        train(TrainOptions(model="fusion", data=[photos], out=tmp_path / "full again", steps=1,
                           init=light / "last.safetensors", tune_backbone=1, **TINY))


def test_starting_from_a_model_without_the_options_that_keep_all_it_learnt_names_them(tmp_path):
    """Started without them, a file's tuned backbone stages would train frozen and be left out of the export."""
    photos = photo_folder(tmp_path / "photos", n=2)
    grown = tmp_path / "grown"
    train(TrainOptions(model="fusion", data=[photos], out=grown, steps=1, tune_backbone=1, blocks8=1, **TINY))
    for flag in ("init", "continue_from"):
        with pytest.raises(UserError, match="was trained with --tune-backbone 1 --blocks8 1; give the same"):
            train(TrainOptions(model="fusion", data=[photos], out=tmp_path / flag, steps=2,
                               **{flag: grown / "last.safetensors"}, **TINY))


def test_starting_from_a_model_of_another_family_or_width_says_which_to_give(tmp_path):
    photos = photo_folder(tmp_path / "photos", n=2)
    fusion = write_tiny_hint_model(tmp_path / "fusion.safetensors")
    with pytest.raises(UserError, match="a fusion model; start from it with --model fusion"):
        train(TrainOptions(model="unet", data=[photos], out=tmp_path / "a", steps=1, init=fusion, **TINY))
    with pytest.raises(UserError, match="was trained with --width 8; give the same"):
        train(TrainOptions(model="fusion", data=[photos], out=tmp_path / "b", steps=1, continue_from=fusion,
                           **TINY | {"width": 16}))


def test_a_hand_edited_model_to_start_from_is_refused_in_one_line(tmp_path):
    photos = photo_folder(tmp_path / "photos", n=2)
    for change, complaint in (({"arch": {"width": 8, "tune_backbone": "3"}}, "no usable tune_backbone ('3')"),
                              ({"arch": "fusion"}, "arch is not a JSON object"),
                              ({"steps": "900"}, "no usable step count ('900')")):
        fusion = write_tiny_hint_model(tmp_path / "fusion.safetensors")
        update_metadata(fusion, change)
        _one_clear_line(_run_here(["train", "--model", "fusion", "--width", "8", "--data", str(photos),
                                  "--continue-from", str(fusion), "--steps", "4", "--out", str(tmp_path / "run")]),
                        complaint)


def test_options_that_would_do_nothing_for_the_model_trained_are_refused_in_one_line(tmp_path):
    photos = photo_folder(tmp_path / "photos", n=2)
    run = ["train", "--data", str(photos), "--out", str(tmp_path / "run")]
    _one_clear_line(_run_here([*run, "--model", "unet", "--light-decoder"]),
                    "--light-decoder: an option of --model fusion")
    _one_clear_line(_run_here([*run, "--model", "unet", "--backbones", "lite2", "--blocks8", "2"]),
                    "--backbones --blocks8: options of --model fusion")
    _one_clear_line(_run_here([*run, "--model", "fusion", "--train-layers", "up2"]), "give the model they come from")
    _one_clear_line(_run_here([*run, "--model", "fusion", "--teacher", str(tmp_path / "nope.safetensors")]),
                    "no such weights file for --teacher")
    _one_clear_line(_run_here([*run, "--model", "fusion", "--teacher", str(photos)]),
                    "a folder, not a weights file for --teacher (a training run's is its last.safetensors)")
    _one_clear_line(_run_here([*run, "--model", "fusion", "--init", str(photos)]),
                    "a folder, not a weights file for --init")
    _one_clear_line(_run_here([*run, "--model", "fusion", "--loss", "bins", "--teacher", str(photos)]),
                    "--teacher gives the colours to learn with --loss l1, mse or rgb")
    _one_clear_line(_run_here([*run, "--model", "fusion", "--teacher-mirror"]), "--teacher-mirror needs a --teacher")
    _one_clear_line(_run_here([*run, "--model", "unet", "--gan-warmup", "5", "--lambda-l1", "3"]),
                    "--gan-warmup --lambda-l1: options of --model gan or --adversarial")
    _one_clear_line(_run_here([*run, "--model", "unet", "--val-every", "1"]), "--val-every needs a --val folder")
    assert not (tmp_path / "run").exists()


def test_a_shipped_model_is_named_for_init_or_teacher_as_for_model(tmp_path, monkeypatch):
    given: list[TrainOptions] = []
    monkeypatch.setattr(train_module, "train", given.append)
    photos = photo_folder(tmp_path / "photos", n=2)
    result = CliRunner().invoke(main, ["train", "--model", "fusion", "--data", str(photos), "--out",
                                       str(tmp_path / "run"), "--init", "fusion", "--teacher", "fusion-v1"])
    assert result.exit_code == 0, result.output
    shipped = shipped_models()
    assert (given[0].init, given[0].teachers) == (shipped["fusion"], [shipped["fusion-v1"]])


def test_a_file_named_as_a_shipped_model_is_taken_when_given_as_a_path(tmp_path, monkeypatch):
    """`--teacher ./fusion` is the file in this folder, as `--model ./fusion` is: a small U-Net here."""
    given: list[TrainOptions] = []
    monkeypatch.setattr(train_module, "train", given.append)
    monkeypatch.chdir(tmp_path)
    write_tiny_model(tmp_path / "fusion")
    photos = photo_folder(tmp_path / "photos", n=2)
    result = CliRunner().invoke(main, ["train", "--model", "fusion", "--data", str(photos), "--out", "run",
                                       "--teacher", "./fusion", "--init", "./fusion-v1"])
    assert result.exit_code == 0, result.output
    assert (given[0].init, given[0].teachers) == (Path("fusion-v1"), [Path("fusion")])
    assert load_model(given[0].teachers[0])[1]["family"] == "unet"  # not the shipped fusion model


@pytest.mark.parametrize("n_teachers, mirror", [(1, False), (2, True)])
def test_a_model_distilled_from_others_learns_their_averaged_colors_not_the_photos(tmp_path, monkeypatch,
                                                                                     n_teachers, mirror):
    photos = photo_folder(tmp_path / "photos", n=4)
    slow = [tmp_path / f"slow{seed}" / "last.safetensors" for seed in range(n_teachers)]
    for seed, path in enumerate(slow):
        train(TrainOptions(model="fusion", data=[photos], out=path.parent, steps=1, **{**TINY, "seed": seed}))
    learnt = []
    step = train_module.train_step

    def recording_step(run: object, L: torch.Tensor, ab: torch.Tensor, *rest: object) -> float:
        learnt.append((L, ab))
        return step(run, L, ab, *rest)

    monkeypatch.setattr(train_module, "train_step", recording_step)
    train(TrainOptions(model="fusion", data=[photos], out=tmp_path / "fast", steps=2, light_decoder=True,
                       init=slow[0], train_layers="up4,up2,head", teachers=slow, teacher_mirror=mirror,
                       precision="fp32", **TINY))
    teachers = [load_model(str(path))[0] for path in slow]
    with torch.no_grad():
        for L, ab in learnt:
            views = [t(L) for t in teachers] + [t(L.flip(-1)).flip(-1) for t in teachers if mirror]
            torch.testing.assert_close(ab, sum(views) / len(views), rtol=0, atol=1e-5)
    meta = read_metadata(tmp_path / "fast" / "last.safetensors")
    assert (meta["teachers"], meta["teacher_mirror"]) == ([str(path) for path in slow], mirror)


def test_a_fusion_model_fine_tunes_against_a_patchgan_and_resumes_exactly(tmp_path, monkeypatch):
    photos = photo_folder(tmp_path / "photos", n=6)
    opts = dict(model="fusion", data=[photos], steps=4, checkpoint_every=2, adversarial=True, gan_warmup=1, **TINY)
    train(TrainOptions(out=tmp_path / "straight", **opts))
    assert "disc" in torch.load(tmp_path / "straight" / "checkpoint.pt", weights_only=True)
    assert read_metadata(tmp_path / "straight" / "last.safetensors")["adversarial"] is True

    _stopped_by_ctrl_c_after(3, monkeypatch, TrainOptions(out=tmp_path / "stopped", **opts))
    train(TrainOptions(out=tmp_path / "stopped", resume=True, **opts))
    _assert_same_weights(tmp_path / "straight", tmp_path / "stopped")


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_training_runs_in_either_precision(tmp_path, precision):
    photos = photo_folder(tmp_path / "photos", n=4)
    train(TrainOptions(model="fusion", data=[photos], out=tmp_path / "run", steps=2, precision=precision, **TINY))
    assert (tmp_path / "run" / "last.safetensors").is_file()


def test_two_places_to_start_from_are_refused(tmp_path):
    photos = photo_folder(tmp_path / "photos", n=2)
    with pytest.raises(UserError, match="give one"):
        train(TrainOptions(model="unet", data=[photos], out=tmp_path / "run", init=tmp_path / "a.safetensors",
                           continue_from=tmp_path / "b.safetensors", **TINY))
    assert not (tmp_path / "run").exists()
