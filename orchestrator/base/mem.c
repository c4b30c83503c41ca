/* mem.c: aborting allocators and the arena. */
#include "base/base.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

void kiln_fatal(const char *fmt, ...)
{
    va_list ap;
    fputs("kiln: fatal: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

void kiln_mem_trim(void)
{
#ifdef __GLIBC__
    malloc_trim(0);
#endif
}

void *kiln_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        kiln_fatal("out of memory allocating %zu bytes", n);
    return p;
}

void *kiln_calloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        kiln_fatal("out of memory allocating %zu x %zu bytes", n, size);
    return p;
}

void *kiln_realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        kiln_fatal("out of memory reallocating %zu bytes", n);
    return q;
}

char *kiln_strndup(const char *s, size_t n)
{
    char *p = kiln_malloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *kiln_strdup(const char *s)
{
    return s ? kiln_strndup(s, strlen(s)) : NULL;
}

char *kiln_asprintf(const char *fmt, ...)
{
    kiln_buf b = KILN_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    kiln_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    return kiln_buf_detach(&b);
}

/* The arena is a list of chunks, the first small and each next one twice
 * the last, up to CHUNK_SIZE: a pipeline's model takes a few KiB, and
 * kiln serve keeps thousands. Big requests get a chunk of their own. */
#define CHUNK_SIZE (64 * 1024)
#define CHUNK_FIRST (4 * 1024)

struct chunk {
    struct chunk *next;
    size_t used, size;
    _Alignas(16) unsigned char data[];
};

struct kiln_arena {
    struct chunk *head;
    size_t next;        /* the size of the next chunk */
};

kiln_arena *kiln_arena_new(void)
{
    return kiln_calloc(1, sizeof(kiln_arena));
}

void kiln_arena_free(kiln_arena *a)
{
    struct chunk *c, *next;
    if (!a)
        return;
    for (c = a->head; c; c = next) {
        next = c->next;
        free(c);
    }
    free(a);
}

void *kiln_arena_alloc(kiln_arena *a, size_t n)
{
    struct chunk *c = a->head;
    void *p;
    n = (n + 15) & ~(size_t)15;
    if (!c || c->size - c->used < n) {
        size_t size;
        if (a->next < CHUNK_FIRST)
            a->next = CHUNK_FIRST;
        size = n > a->next / 4 ? n : a->next;
        if (size == a->next && a->next < CHUNK_SIZE)
            a->next *= 2;
        c = kiln_malloc(sizeof(*c) + size);
        c->used = 0;
        c->size = size;
        if (size == n && a->head) {
            /* Keep the current chunk in front for small allocations. */
            c->next = a->head->next;
            a->head->next = c;
        } else {
            c->next = a->head;
            a->head = c;
        }
    }
    p = c->data + c->used;
    c->used += n;
    memset(p, 0, n);
    return p;
}

char *kiln_arena_strndup(kiln_arena *a, const char *s, size_t n)
{
    char *p = kiln_arena_alloc(a, n + 1);
    memcpy(p, s, n);
    return p;
}

char *kiln_arena_strdup(kiln_arena *a, const char *s)
{
    return s ? kiln_arena_strndup(a, s, strlen(s)) : NULL;
}

char *kiln_arena_printf(kiln_arena *a, const char *fmt, ...)
{
    kiln_buf b = KILN_BUF_INIT;
    char *p;
    va_list ap;
    va_start(ap, fmt);
    kiln_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    p = kiln_arena_strndup(a, kiln_buf_cstr(&b), b.len);
    kiln_buf_dispose(&b);
    return p;
}
