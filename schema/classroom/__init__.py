"""The live classroom: teachers' views and controls, and the device protocol."""
