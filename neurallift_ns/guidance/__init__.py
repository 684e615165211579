"""Guidance: what supervises the views of the object that the photo does not show."""
