package tflite

// verify checks the flatbuffer structure of a model before any accessor
// reads it. TODO: full structural verification.
func verify(data []byte) error {
	if len(data) < 8 {
		return malformedf("%d bytes is too short for a flatbuffer", len(data))
	}
	if string(data[4:8]) != "TFL3" {
		return malformedf("file identifier %q; want \"TFL3\"", data[4:8])
	}
	return nil
}
