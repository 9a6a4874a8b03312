"""Quantized CNN models: format (qmodel), bit-exact reference, training, quantization, ONNX I/O."""
