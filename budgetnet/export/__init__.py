"""Deployment: ONNX export, int8 quantization and latency, proven on the test set."""
