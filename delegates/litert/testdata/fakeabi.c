/*
 * A fake of the TensorFlow Lite C ABI and of libedgetpu's, for the tests of
 * package litert: it exports the symbols litert binds, with their C
 * signatures, and records the calls in a log. It is NOT TensorFlow Lite:
 * every "model" has one float32 [1,4] input and one float32 [1,4] output,
 * and Invoke multiplies by 2, or by the delegate's factor when one was
 * added (Edge TPU 10, GPU 5, XNNPACK 3); edged's library check model
 * (description "edged library check") adds its constant. Built by the
 * test with gcc -shared.
 * FAKE_EDGETPU_DEVICES=0 makes edgetpu_list_devices find none;
 * FAKE_EDGETPU_CRASH makes it fault, FAKE_GPU_HANG makes
 * TfLiteGpuDelegateV2Create hang, as drivers do. A model
 * whose bytes start with "refuse" makes TfLiteInterpreterCreate fail after
 * reporting two errors through the error reporter.
 */
#define _GNU_SOURCE /* memmem */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <unistd.h>

static char log_buf[8192];
static void logf_(const char *s) {
	size_t n = strlen(log_buf);
	if (n + strlen(s) + 2 < sizeof log_buf) {
		strcat(log_buf, s);
		strcat(log_buf, ";");
	}
}
const char *fake_log(void) { return log_buf; }
void fake_log_reset(void) { log_buf[0] = 0; }

typedef struct { int type; int dims[2]; size_t bytes; const char *name; float *data; } TfLiteTensor;
typedef struct { const void *data; size_t size; int check; } TfLiteModel;
typedef void (*Reporter)(void *user, const char *format, va_list args);
typedef struct { int threads; void *delegate; Reporter reporter; void *user; } TfLiteInterpreterOptions;
typedef struct { float k; } FakeDelegate;
typedef struct { float in[4], out[4]; float k; int allocated, check; TfLiteTensor tin, tout; } TfLiteInterpreter;

const char *TfLiteVersion(void) { return "2.99.0-fake"; }

TfLiteModel *TfLiteModelCreate(const void *data, size_t size) {
	if (size == 0) return NULL;
	TfLiteModel *m = malloc(sizeof *m);
	m->data = data; m->size = size;
	/* edged's library check model (y = x + c): answered as the real thing */
	m->check = memmem(data, size, "edged library check", 19) != NULL;
	logf_("ModelCreate");
	return m;
}
void TfLiteModelDelete(TfLiteModel *m) { logf_("ModelDelete"); free(m); }

TfLiteInterpreterOptions *TfLiteInterpreterOptionsCreate(void) {
	logf_("OptionsCreate");
	return calloc(1, sizeof(TfLiteInterpreterOptions));
}
void TfLiteInterpreterOptionsDelete(TfLiteInterpreterOptions *o) { logf_("OptionsDelete"); free(o); }
void TfLiteInterpreterOptionsSetNumThreads(TfLiteInterpreterOptions *o, int32_t n) {
	char b[64];
	o->threads = n;
	snprintf(b, sizeof b, "SetNumThreads=%d", n);
	logf_(b);
}
void TfLiteInterpreterOptionsAddDelegate(TfLiteInterpreterOptions *o, void *d) { o->delegate = d; logf_("AddDelegate"); }

void TfLiteInterpreterOptionsSetErrorReporter(TfLiteInterpreterOptions *o, Reporter r, void *user) {
	o->reporter = r;
	o->user = user;
	logf_("SetErrorReporter");
}

static void report(const TfLiteInterpreterOptions *o, const char *format, ...) {
	va_list ap;
	if (!o || !o->reporter) return;
	va_start(ap, format);
	o->reporter(o->user, format, ap);
	va_end(ap);
}

TfLiteInterpreter *TfLiteInterpreterCreate(const TfLiteModel *m, const TfLiteInterpreterOptions *o) {
	if (!m) return NULL;
	if (m->size >= 6 && memcmp(m->data, "refuse", 6) == 0) {
		report(o, "tensor %d: %s (%.1f)", 7, "quantized_dimension out of range", 2.5);
		report(o, "Registration failed.");
		report(o, "tensor %d: %s (%.1f)", 7, "quantized_dimension out of range", 2.5);
		return NULL;
	}
	TfLiteInterpreter *it = calloc(1, sizeof *it);
	it->k = o && o->delegate ? ((FakeDelegate *)o->delegate)->k : 2;
	it->check = m->check;
	TfLiteTensor in = {1, {1, 4}, 16, "x", it->in}, out = {1, {1, 4}, 16, "y", it->out};
	it->tin = in; it->tout = out;
	logf_("InterpreterCreate");
	return it;
}
void TfLiteInterpreterDelete(TfLiteInterpreter *it) { logf_("InterpreterDelete"); free(it); }
int TfLiteInterpreterAllocateTensors(TfLiteInterpreter *it) { it->allocated = 1; logf_("AllocateTensors"); return 0; }
int TfLiteInterpreterInvoke(TfLiteInterpreter *it) {
	if (!it->allocated) return 1;
	static const float c[4] = {0.25f, 3, -0.5f, -1};
	for (int i = 0; i < 4; i++) it->out[i] = it->check ? it->in[i] + c[i] : it->in[i] * it->k;
	logf_("Invoke");
	return 0;
}
int32_t TfLiteInterpreterGetInputTensorCount(const TfLiteInterpreter *it) { return 1; }
int32_t TfLiteInterpreterGetOutputTensorCount(const TfLiteInterpreter *it) { return 1; }
TfLiteTensor *TfLiteInterpreterGetInputTensor(TfLiteInterpreter *it, int32_t i) { return i == 0 ? &it->tin : NULL; }
const TfLiteTensor *TfLiteInterpreterGetOutputTensor(const TfLiteInterpreter *it, int32_t i) { return i == 0 ? &it->tout : NULL; }
int TfLiteTensorType(const TfLiteTensor *t) { return t->type; }
int32_t TfLiteTensorNumDims(const TfLiteTensor *t) { return 2; }
int32_t TfLiteTensorDim(const TfLiteTensor *t, int32_t d) { return t->dims[d]; }
size_t TfLiteTensorByteSize(const TfLiteTensor *t) { return t->bytes; }
const char *TfLiteTensorName(const TfLiteTensor *t) { return t->name; }
int TfLiteTensorCopyFromBuffer(TfLiteTensor *t, const void *p, size_t n) {
	if (n != t->bytes) return 1;
	memcpy(t->data, p, n);
	return 0;
}
int TfLiteTensorCopyToBuffer(const TfLiteTensor *t, void *p, size_t n) {
	if (n != t->bytes) return 1;
	memcpy(p, t->data, n);
	return 0;
}

/* XNNPACK delegate: the options of TFLite 2.21 */
typedef struct {
	int32_t num_threads;
	uint32_t runtime_flags;
	uint32_t flags;
	void *weights_cache;
	bool handle_variable_ops;
	const char *weight_cache_file_path;
	int weight_cache_file_descriptor;
	void *weight_cache_provider;
} XNNOptions;
typedef struct { float k; XNNOptions o; } FakeXNN;
XNNOptions TfLiteXNNPackDelegateOptionsDefault(void) {
	XNNOptions o = {0};
	o.weight_cache_file_descriptor = -1;
	o.flags = getenv("FAKE_XNN_DEFAULT_FLAGS") ? (uint32_t)atoi(getenv("FAKE_XNN_DEFAULT_FLAGS")) : 3;
	return o;
}
void *TfLiteXNNPackDelegateCreate(const XNNOptions *o) {
	char b[96];
	FakeXNN *d = malloc(sizeof *d);
	d->k = 3;
	d->o = *o;
	snprintf(b, sizeof b, "XNNPackCreate threads=%d flags=%u fd=%d", o->num_threads, o->flags, o->weight_cache_file_descriptor);
	logf_(b);
	return d;
}
int TfLiteXNNPackDelegateGetFlags(void *d) { return (int)((FakeXNN *)d)->o.flags; }
void TfLiteXNNPackDelegateDelete(void *d) { logf_("XNNPackDelete"); free(d); }

/* libedgetpu */
struct edgetpu_device { int type; const char *path; };
static struct edgetpu_device devs[1] = {{1, "/sys/bus/usb/devices/2-1"}};
struct edgetpu_device *edgetpu_list_devices(size_t *n) {
	const char *e = getenv("FAKE_EDGETPU_DEVICES");
	if (getenv("FAKE_EDGETPU_CRASH")) *(volatile int *)0 = 1;
	*n = e && e[0] == '0' ? 0 : 1;
	return *n ? devs : NULL;
}
void edgetpu_free_devices(struct edgetpu_device *d) {}
void *tflite_plugin_create_delegate(char **keys, char **values, size_t n, void (*report)(const char *)) {
	char b[256] = "CreateDelegate";
	for (size_t i = 0; i < n; i++) {
		strncat(b, " ", sizeof b - strlen(b) - 1);
		strncat(b, keys[i], sizeof b - strlen(b) - 1);
		strncat(b, "=", sizeof b - strlen(b) - 1);
		strncat(b, values[i], sizeof b - strlen(b) - 1);
	}
	logf_(b);
	FakeDelegate *d = malloc(sizeof *d);
	d->k = 10;
	return d;
}
void tflite_plugin_destroy_delegate(void *d) { logf_("DestroyDelegate"); free(d); }

/* GPU delegate */
void *TfLiteGpuDelegateV2Create(const void *opts) {
	if (getenv("FAKE_GPU_HANG")) for (;;) sleep(1);
	logf_(opts ? "GpuCreate options" : "GpuCreate defaults");
	FakeDelegate *d = malloc(sizeof *d);
	d->k = 5;
	return d;
}
void TfLiteGpuDelegateV2Delete(void *d) { logf_("GpuDelete"); free(d); }
