/* JSON documents -> Arrow column buffers for one fixed, nested schema (native part of
 * pipeline.sources.jsoncols; read that module's docstring first).
 *
 *   compile(fields) -> schema      fields: [(name, kind, children | None), ...]
 *   read(data, schema, key) -> (rows, columns) | str
 *
 * `read` parses `data` with yyjson (strict JSON, UTF-8 validated, numbers kept as written),
 * takes the array under the single top-level `key` (or a top-level array) and fills, per
 * schema field, the Arrow buffers: validity bitmap, int32 offsets + bytes for strings and JSON
 * text, a value bitmap for booleans, validity + children for structs. It never guesses: an
 * element that is not an object, a member the schema does not name, a duplicate member, or a
 * value of the wrong JSON type makes it return a one-line reason (str) instead, so that the
 * caller takes its general path. The GIL is released while parsing; the call is re-entrant.
 * Memory: yyjson's document and the column byte buffers are kept per thread for the next call
 * (up to 64 MiB documents and 16 MiB columns), the rest is freed when the call returns.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "yyjson.h"

enum { K_STR = 0, K_BOOL = 1, K_JSON = 2, K_JSON_NOT_STR = 3, K_STRUCT = 4 };

typedef struct field {
    char *name;
    size_t name_len;
    int kind;
    int index;                  /* preorder position: the column state slot */
    int nchildren;
    struct field *children;
} field_t;

typedef struct {
    field_t root;               /* kind K_STRUCT, no name */
    int nfields;                /* including the root */
} schema_t;

typedef struct {
    uint8_t *valid;             /* (n + 7) / 8 bytes, zeroed */
    int32_t *offsets;           /* n + 1 (strings and JSON text) */
    uint8_t *bits;              /* boolean values */
    char *data;
    size_t len, cap;
    int64_t rows, nulls;
} col_t;

/* Memory kept per thread for the next call (see take_kept and doc_allocator); freed when the
 * thread exits. */
#define KEEP_SLOTS 256
typedef struct {
    yyjson_alc *alc;
    struct { char *p; size_t cap; } kept[KEEP_SLOTS];
} thread_mem_t;

typedef struct {
    col_t *cols;
    int64_t n;
    thread_mem_t *mem;          /* NULL: nothing is kept */
    char reason[256];
} state_t;

/* -- schema ------------------------------------------------------------------------------ */

static void field_free(field_t *f) {
    for (int i = 0; i < f->nchildren; i++) field_free(&f->children[i]);
    free(f->children);
    free(f->name);
}

static int field_build(field_t *f, PyObject *spec, int *counter);

static int children_build(field_t *f, PyObject *list, int *counter) {
    PyObject *seq = PySequence_Fast(list, "fields must be a sequence");
    if (!seq) return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    f->children = calloc(n ? (size_t)n : 1, sizeof(field_t));
    if (!f->children) { Py_DECREF(seq); PyErr_NoMemory(); return -1; }
    f->nchildren = (int)n;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (field_build(&f->children[i], PySequence_Fast_GET_ITEM(seq, i), counter) < 0) {
            Py_DECREF(seq);
            return -1;
        }
    }
    Py_DECREF(seq);
    return 0;
}

static int field_build(field_t *f, PyObject *spec, int *counter) {
    const char *name;
    Py_ssize_t name_len;
    int kind;
    PyObject *children;
    if (!PyArg_ParseTuple(spec, "s#iO", &name, &name_len, &kind, &children)) return -1;
    if (kind < K_STR || kind > K_STRUCT) {
        PyErr_Format(PyExc_ValueError, "field %s: unknown kind %d", name, kind);
        return -1;
    }
    f->name = malloc((size_t)name_len + 1);
    if (!f->name) { PyErr_NoMemory(); return -1; }
    memcpy(f->name, name, (size_t)name_len + 1);
    f->name_len = (size_t)name_len;
    f->kind = kind;
    f->index = (*counter)++;
    if (kind == K_STRUCT) return children_build(f, children, counter);
    return 0;
}

static void schema_destroy(PyObject *capsule) {
    schema_t *s = PyCapsule_GetPointer(capsule, "jsoncols.schema");
    if (!s) return;
    field_free(&s->root);
    free(s);
}

static PyObject *py_compile(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *fields;
    if (!PyArg_ParseTuple(args, "O", &fields)) return NULL;
    schema_t *s = calloc(1, sizeof(schema_t));
    if (!s) return PyErr_NoMemory();
    int counter = 0;
    s->root.kind = K_STRUCT;
    s->root.index = counter++;
    if (children_build(&s->root, fields, &counter) < 0) {
        field_free(&s->root);
        free(s);
        return NULL;
    }
    s->nfields = counter;
    PyObject *cap = PyCapsule_New(s, "jsoncols.schema", schema_destroy);
    if (!cap) { field_free(&s->root); free(s); }
    return cap;
}

/* -- filling columns (no Python calls: runs without the GIL) ------------------------------ */

/* Record why the document needs the general path; always returns -1. */
__attribute__((format(printf, 2, 3))) static int refuse(state_t *st, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(st->reason, sizeof st->reason, fmt, ap);
    va_end(ap);
    return -1;
}

static void set_bit(uint8_t *bits, int64_t row) { bits[row >> 3] |= (uint8_t)(1u << (row & 7)); }

static pthread_key_t mem_key;
static pthread_once_t mem_once = PTHREAD_ONCE_INIT;
static int mem_key_ok;

static void mem_release(void *ptr) {
    thread_mem_t *m = ptr;
    if (m->alc) yyjson_alc_dyn_free(m->alc);
    for (int i = 0; i < KEEP_SLOTS; i++) free(m->kept[i].p);
    free(m);
}

static void mem_key_create(void) { mem_key_ok = pthread_key_create(&mem_key, mem_release) == 0; }

static thread_mem_t *thread_mem(void) {
    pthread_once(&mem_once, mem_key_create);
    if (!mem_key_ok) return NULL;
    thread_mem_t *m = pthread_getspecific(mem_key);
    if (!m && (m = calloc(1, sizeof *m)) && pthread_setspecific(mem_key, m) != 0) {
        free(m);
        m = NULL;
    }
    return m;
}

/* Column byte buffers are kept per thread for the next document (by field index, up to
 * KEEP_MAX bytes each), so that filling them touches pages that are already mapped. */
#define KEEP_MAX ((size_t)16 << 20)

static void take_kept(state_t *st, col_t *c, int index) {
    if (st->mem && index < KEEP_SLOTS && st->mem->kept[index].p) {
        c->data = st->mem->kept[index].p;
        c->cap = st->mem->kept[index].cap;
        st->mem->kept[index].p = NULL;
    }
}

static void give_back(state_t *st, col_t *c, int index) {
    if (c->data && st->mem && index < KEEP_SLOTS && !st->mem->kept[index].p && c->cap <= KEEP_MAX) {
        st->mem->kept[index].p = c->data;
        st->mem->kept[index].cap = c->cap;
    } else {
        free(c->data);
    }
    c->data = NULL;
}

static int reserve(state_t *st, col_t *c, size_t extra) {
    if (c->len + extra <= c->cap) return 0;
    size_t cap = c->cap ? c->cap : 4096;
    while (cap < c->len + extra) cap *= 2;
    char *p = realloc(c->data, cap);
    if (!p) return refuse(st, "out of memory");
    c->data = p;
    c->cap = cap;
    return 0;
}

static int cols_alloc(state_t *st, const field_t *f) {
    col_t *c = &st->cols[f->index];
    size_t nbytes = (size_t)(st->n + 7) / 8;
    c->valid = calloc(nbytes ? nbytes : 1, 1);
    if (!c->valid) return -1;
    if (f->kind == K_BOOL) {
        c->bits = calloc(nbytes ? nbytes : 1, 1);
        if (!c->bits) return -1;
    } else if (f->kind != K_STRUCT) {
        c->offsets = calloc((size_t)st->n + 1, sizeof(int32_t));
        if (!c->offsets) return -1;
        take_kept(st, c, f->index);
    }
    for (int i = 0; i < f->nchildren; i++)
        if (cols_alloc(st, &f->children[i]) < 0) return -1;
    return 0;
}

static void cols_free(state_t *st, int nfields) {
    for (int i = 0; i < nfields; i++) {
        free(st->cols[i].valid);
        free(st->cols[i].offsets);
        free(st->cols[i].bits);
        give_back(st, &st->cols[i], i);
    }
    free(st->cols);
}

static void append_null(state_t *st, const field_t *f, int64_t row) {
    col_t *c = &st->cols[f->index];
    c->nulls++;
    if (c->offsets) c->offsets[row + 1] = (int32_t)c->len;
    for (int i = 0; i < f->nchildren; i++) append_null(st, &f->children[i], row);
    c->rows = row + 1;
}

static int append_bytes(state_t *st, col_t *c, const char *p, size_t len, int64_t row) {
    if (c->len + len > INT32_MAX)
        return refuse(st, "a column of one document is over 2 GiB (element %lld)", (long long)row);
    if (reserve(st, c, len) < 0) return -1;
    memcpy(c->data + c->len, p, len);
    c->len += len;
    c->offsets[row + 1] = (int32_t)c->len;
    set_bit(c->valid, row);
    c->rows = row + 1;
    return 0;
}

static int fill_object(state_t *st, const field_t *parent, yyjson_val *obj, int64_t row);

static int append(state_t *st, const field_t *f, yyjson_val *v, int64_t row) {
    col_t *c = &st->cols[f->index];
    if (yyjson_is_null(v)) {
        append_null(st, f, row);
        return 0;
    }
    switch (f->kind) {
    case K_STR:
        if (!yyjson_is_str(v)) return refuse(st, "`%s` is not a string (element %lld)", f->name, (long long)row);
        return append_bytes(st, c, yyjson_get_str(v), yyjson_get_len(v), row);
    case K_BOOL:
        if (!yyjson_is_bool(v)) return refuse(st, "`%s` is not a boolean (element %lld)", f->name, (long long)row);
        set_bit(c->valid, row);
        if (yyjson_is_true(v)) set_bit(c->bits, row);
        c->rows = row + 1;
        return 0;
    case K_JSON:
    case K_JSON_NOT_STR: {
        if (f->kind == K_JSON_NOT_STR && yyjson_is_str(v))
            return refuse(st, "`%s` is a JSON string (element %lld)", f->name, (long long)row);
        size_t len = 0;
        char *text = yyjson_val_write(v, YYJSON_WRITE_NOFLAG, &len);
        if (!text) return refuse(st, "`%s` cannot be written as JSON (element %lld)", f->name, (long long)row);
        int rc = append_bytes(st, c, text, len, row);
        free(text);
        return rc;
    }
    default: /* K_STRUCT */
        if (!yyjson_is_obj(v)) return refuse(st, "`%s` is not an object (element %lld)", f->name, (long long)row);
        set_bit(c->valid, row);
        if (fill_object(st, f, v, row) < 0) return -1;
        c->rows = row + 1;
        return 0;
    }
}

/* The child of `parent` named `key`; members usually come in schema order, so the field after
 * the previous match is tried first. */
static const field_t *lookup(const field_t *parent, const char *key, size_t len, int *hint) {
    int n = parent->nchildren;
    for (int k = 0; k < n; k++) {
        int i = (*hint + k) % n;
        const field_t *f = &parent->children[i];
        if (f->name_len == len && memcmp(f->name, key, len) == 0) {
            *hint = i + 1;
            return f;
        }
    }
    return NULL;
}

static int fill_object(state_t *st, const field_t *parent, yyjson_val *obj, int64_t row) {
    yyjson_obj_iter it;
    yyjson_obj_iter_init(obj, &it);
    yyjson_val *key;
    int hint = 0;
    while ((key = yyjson_obj_iter_next(&it))) {
        const field_t *f = lookup(parent, yyjson_get_str(key), yyjson_get_len(key), &hint);
        if (!f) return refuse(st, "field `%s` is not in the schema (element %lld)", yyjson_get_str(key), (long long)row);
        if (st->cols[f->index].rows != row)
            return refuse(st, "field `%s` appears twice (element %lld)", f->name, (long long)row);
        if (append(st, f, yyjson_obj_iter_get_val(key), row) < 0) return -1;
    }
    for (int i = 0; i < parent->nchildren; i++) {
        const field_t *f = &parent->children[i];
        if (st->cols[f->index].rows == row) append_null(st, f, row);
    }
    return 0;
}

static int fill(state_t *st, const schema_t *s, yyjson_val *arr) {
    yyjson_arr_iter it;
    yyjson_arr_iter_init(arr, &it);
    yyjson_val *el;
    int64_t row = 0;
    while ((el = yyjson_arr_iter_next(&it))) {
        if (!yyjson_is_obj(el)) return refuse(st, "an element is not an object (element %lld)", (long long)row);
        if (fill_object(st, &s->root, el, row) < 0) return -1;
        row++;
    }
    return 0;
}

/* yyjson's memory for documents up to REUSE_MAX bytes comes from one allocator per thread that
 * keeps its chunks for the next document: no fresh pages (and page faults) per file. */
#define REUSE_MAX ((size_t)64 << 20)

static yyjson_alc *doc_allocator(state_t *st, size_t len) {
    if (!st->mem || len > REUSE_MAX) return NULL; /* the default allocator: nothing kept */
    if (!st->mem->alc) st->mem->alc = yyjson_alc_dyn_new();
    return st->mem->alc;
}

/* -- results ------------------------------------------------------------------------------ */

static PyObject *column_result(state_t *st, const field_t *f) {
    col_t *c = &st->cols[f->index];
    size_t nbytes = (size_t)(st->n + 7) / 8;
    PyObject *valid = c->nulls ? PyBytes_FromStringAndSize((char *)c->valid, (Py_ssize_t)nbytes)
                               : Py_NewRef(Py_None);
    if (!valid) return NULL;
    if (f->kind == K_STRUCT) {
        PyObject *children = PyList_New(f->nchildren);
        if (!children) { Py_DECREF(valid); return NULL; }
        for (int i = 0; i < f->nchildren; i++) {
            PyObject *ch = column_result(st, &f->children[i]);
            if (!ch) { Py_DECREF(valid); Py_DECREF(children); return NULL; }
            PyList_SET_ITEM(children, i, ch);
        }
        return Py_BuildValue("(NLN)", valid, (long long)c->nulls, children);
    }
    if (f->kind == K_BOOL)
        return Py_BuildValue("(NLy#)", valid, (long long)c->nulls, (char *)c->bits, (Py_ssize_t)nbytes);
    return Py_BuildValue("(NLy#y#)", valid, (long long)c->nulls, (char *)c->offsets,
                         (Py_ssize_t)((st->n + 1) * (int64_t)sizeof(int32_t)),
                         c->data ? c->data : "", (Py_ssize_t)c->len);
}

static PyObject *py_read(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer data;
    PyObject *capsule;
    const char *key;
    Py_ssize_t key_len;
    if (!PyArg_ParseTuple(args, "y*Os#", &data, &capsule, &key, &key_len)) return NULL;
    schema_t *s = PyCapsule_GetPointer(capsule, "jsoncols.schema");
    if (!s) { PyBuffer_Release(&data); return NULL; }

    state_t st;
    memset(&st, 0, sizeof st);
    st.cols = calloc((size_t)s->nfields, sizeof(col_t));
    if (!st.cols) { PyBuffer_Release(&data); return PyErr_NoMemory(); }
    int ok = 0;
    Py_BEGIN_ALLOW_THREADS
    st.mem = thread_mem();
    yyjson_read_err err;
    yyjson_doc *doc = yyjson_read_opts((char *)data.buf, (size_t)data.len, YYJSON_READ_NUMBER_AS_RAW,
                                       doc_allocator(&st, (size_t)data.len), &err);
    yyjson_val *arr = NULL;
    if (!doc) {
        refuse(&st, "not one JSON document: %s at byte %zu", err.msg, err.pos);
    } else {
        yyjson_val *root = yyjson_doc_get_root(doc);
        if (yyjson_is_arr(root)) {
            arr = root;
        } else if (yyjson_is_obj(root) && yyjson_obj_size(root) == 1) {
            yyjson_val *v = yyjson_obj_getn(root, key, (size_t)key_len);
            if (v && yyjson_is_arr(v)) arr = v;
        }
        if (!arr) refuse(&st, "not an array or an object with only `%s`", key);
        else if (yyjson_arr_size(arr) == 0) refuse(&st, "no elements");
        else {
            st.n = (int64_t)yyjson_arr_size(arr);
            if (cols_alloc(&st, &s->root) < 0) refuse(&st, "out of memory");
            else ok = fill(&st, s, arr) == 0;
        }
        yyjson_doc_free(doc);
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&data);

    PyObject *result;
    if (!ok) {
        result = PyUnicode_DecodeUTF8(st.reason, (Py_ssize_t)strlen(st.reason), "replace");
    } else {
        PyObject *cols = PyList_New(s->root.nchildren);
        result = NULL;
        if (cols) {
            int i = 0;
            for (; i < s->root.nchildren; i++) {
                PyObject *c = column_result(&st, &s->root.children[i]);
                if (!c) break;
                PyList_SET_ITEM(cols, i, c);
            }
            if (i == s->root.nchildren) result = Py_BuildValue("(LN)", (long long)st.n, cols);
            else Py_DECREF(cols);
        }
    }
    cols_free(&st, s->nfields);
    return result;
}

static PyMethodDef methods[] = {
    {"compile", py_compile, METH_VARARGS, "compile(fields) -> schema: [(name, kind, children | None), ...]"},
    {"read", py_read, METH_VARARGS, "read(data, schema, key) -> (rows, columns) | reason (str)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_jsoncols", NULL, -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__jsoncols(void) { return PyModule_Create(&module); }
