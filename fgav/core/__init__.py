"""fgav's core: what every layer may import, and which imports nothing of fgav above it.

Errors, the batch type, the base classes and the wrapping of any Foolbox attack on an
augmented input, the model class, the aiming of an attack at a part, devices, file
helpers, the hook specifications and the version. This package's ``__init__`` imports
nothing, so importing one core module loads only what that module needs.
"""
