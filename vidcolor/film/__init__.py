"""Films: probing, tolerant reading, stream routing and writing, the YUV frame code, and the streaming
decode -> colour -> encode pipeline."""
