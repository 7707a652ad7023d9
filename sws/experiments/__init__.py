"""The experiments on real models: the MiniLM sweep, fidelity, captured activations and their plots."""
