"""The user's colours: hints files read and checked, hand-painted keyframes turned into hints, and hints
carried along the optical flow through a film's shot. What the model makes of them is runtime.hints."""
