"""The model at run time: the architectures by name, their weight files, the shipped models, colour space
conversions, inference at working size with guided upsampling, and temporal smoothing."""
