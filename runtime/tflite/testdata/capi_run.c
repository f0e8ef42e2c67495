// capi_run runs a .tflite model through TensorFlow Lite's C library (the
// official runtime, with its default XNNPACK delegate) for the tests that
// compare edged with it on models the WebAssembly oracle cannot run
// (variable tensors). The library is opened with dlopen, so no headers
// are needed.
//
// usage: capi_run LIB MODEL OUTDIR RUNS RESET IN0 [IN1 ...]
//
// Each input file holds RUNS consecutive input buffers; the model is
// invoked RUNS times on one interpreter, with the variable tensors reset
// before every run when RESET is 1 and never otherwise, and OUTDIR/output_K.bin
// receives the RUNS consecutive buffers of output K.
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void *(*model_create_fn)(const char *);
typedef void *(*ptr_fn)(void);
typedef void *(*interp_create_fn)(void *, void *);
typedef int (*interp_fn)(void *);
typedef int (*count_fn)(void *);
typedef void *(*get_tensor_fn)(void *, int);
typedef size_t (*size_fn)(const void *);
typedef int (*copy_fn)(void *, void *, size_t);

static void *sym(void *lib, const char *name) {
	void *p = dlsym(lib, name);
	if (!p) {
		fprintf(stderr, "capi_run: %s missing\n", name);
		exit(2);
	}
	return p;
}

static char *slurp(const char *path, size_t *n) {
	FILE *f = fopen(path, "rb");
	if (!f) {
		perror(path);
		exit(2);
	}
	fseek(f, 0, SEEK_END);
	*n = (size_t)ftell(f);
	fseek(f, 0, SEEK_SET);
	char *b = malloc(*n ? *n : 1);
	if (fread(b, 1, *n, f) != *n) {
		perror(path);
		exit(2);
	}
	fclose(f);
	return b;
}

int main(int argc, char **argv) {
	if (argc < 6) {
		fprintf(stderr, "usage: capi_run LIB MODEL OUTDIR RUNS RESET IN...\n");
		return 2;
	}
	void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
	if (!lib) {
		fprintf(stderr, "capi_run: %s\n", dlerror());
		return 2;
	}
	model_create_fn model_create = (model_create_fn)sym(lib, "TfLiteModelCreateFromFile");
	interp_create_fn interp_create = (interp_create_fn)sym(lib, "TfLiteInterpreterCreate");
	interp_fn allocate = (interp_fn)sym(lib, "TfLiteInterpreterAllocateTensors");
	interp_fn invoke = (interp_fn)sym(lib, "TfLiteInterpreterInvoke");
	interp_fn reset = (interp_fn)sym(lib, "TfLiteInterpreterResetVariableTensors");
	count_fn n_in = (count_fn)sym(lib, "TfLiteInterpreterGetInputTensorCount");
	count_fn n_out = (count_fn)sym(lib, "TfLiteInterpreterGetOutputTensorCount");
	get_tensor_fn get_in = (get_tensor_fn)sym(lib, "TfLiteInterpreterGetInputTensor");
	get_tensor_fn get_out = (get_tensor_fn)sym(lib, "TfLiteInterpreterGetOutputTensor");
	size_fn byte_size = (size_fn)sym(lib, "TfLiteTensorByteSize");
	copy_fn copy_from = (copy_fn)sym(lib, "TfLiteTensorCopyFromBuffer");
	copy_fn copy_to = (copy_fn)sym(lib, "TfLiteTensorCopyToBuffer");

	void *model = model_create(argv[2]);
	if (!model) {
		fprintf(stderr, "capi_run: cannot load %s\n", argv[2]);
		return 1;
	}
	void *it = interp_create(model, NULL);
	if (!it || allocate(it) != 0) {
		fprintf(stderr, "capi_run: cannot prepare %s\n", argv[2]);
		return 1;
	}
	int runs = atoi(argv[4]), reset_each = atoi(argv[5]);
	int ni = n_in(it), no = n_out(it);
	if (argc - 6 != ni) {
		fprintf(stderr, "capi_run: model has %d inputs, %d given\n", ni, argc - 6);
		return 2;
	}
	char **in = calloc(ni, sizeof(char *));
	for (int i = 0; i < ni; i++) {
		size_t n;
		in[i] = slurp(argv[6 + i], &n);
		if (n != byte_size(get_in(it, i)) * (size_t)runs) {
			fprintf(stderr, "capi_run: input %d: %zu bytes, want %d runs of %zu\n", i, n, runs, byte_size(get_in(it, i)));
			return 2;
		}
	}
	FILE **out = calloc(no, sizeof(FILE *));
	for (int k = 0; k < no; k++) {
		char path[4096];
		snprintf(path, sizeof path, "%s/output_%d.bin", argv[3], k);
		out[k] = fopen(path, "wb");
		if (!out[k]) {
			perror(path);
			return 2;
		}
	}
	for (int r = 0; r < runs; r++) {
		if (reset_each && reset(it) != 0) {
			fprintf(stderr, "capi_run: reset failed\n");
			return 1;
		}
		for (int i = 0; i < ni; i++) {
			void *t = get_in(it, i);
			size_t n = byte_size(t);
			if (copy_from(t, in[i] + (size_t)r * n, n) != 0) {
				fprintf(stderr, "capi_run: copying input %d\n", i);
				return 1;
			}
		}
		if (invoke(it) != 0) {
			fprintf(stderr, "capi_run: invoke failed\n");
			return 1;
		}
		for (int k = 0; k < no; k++) {
			const void *t = get_out(it, k);
			size_t n = byte_size(t);
			char *b = malloc(n ? n : 1);
			copy_to((void *)t, b, n);
			fwrite(b, 1, n, out[k]);
			free(b);
		}
	}
	for (int k = 0; k < no; k++) {
		fclose(out[k]);
	}
	return 0;
}
