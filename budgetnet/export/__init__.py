"""Deployment: ONNX export and int8 quantization, proven on the test set."""
