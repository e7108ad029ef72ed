"""The leaf every other part may use: the one error type, atomic writes, decoder guards, signals, the choices
the command line offers, which files are photos or films. Imports nothing else of vidcolor."""
