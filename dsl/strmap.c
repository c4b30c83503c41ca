/* strmap.c: an open-addressing hash table from strings to size_t. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

struct kiln_strmap_slot {
    const char *key; /* NULL: the slot is free */
    size_t len;
    size_t value;
    uint64_t hash;
};

/* FNV-1a. */
static uint64_t hash(const char *s, size_t len)
{
    uint64_t h = 14695981039346656037ULL;
    size_t i;
    for (i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    return h;
}

void kiln_dsl__strmap_init(kiln_strmap *m, size_t hint)
{
    size_t cap = 16;
    while (cap < hint * 2)
        cap *= 2;
    m->slots = kiln_calloc(cap, sizeof(*m->slots));
    m->cap = cap;
    m->n = 0;
}

void kiln_dsl__strmap_dispose(kiln_strmap *m)
{
    free(m->slots);
    m->slots = NULL;
    m->cap = m->n = 0;
}

/* The slot holding key, or the free slot where it would go. */
static kiln_strmap_slot *find(const kiln_strmap *m, const char *key,
                              size_t len, uint64_t h)
{
    size_t i = (size_t)h & (m->cap - 1);
    for (;;) {
        kiln_strmap_slot *s = &m->slots[i];
        if (!s->key || (s->hash == h && s->len == len &&
                        memcmp(s->key, key, len) == 0))
            return s;
        i = (i + 1) & (m->cap - 1);
    }
}

/* Double the table when it is half full. */
static void grow(kiln_strmap *m)
{
    kiln_strmap old = *m;
    size_t i;
    if ((m->n + 1) * 2 <= m->cap)
        return;
    m->cap *= 2;
    m->slots = kiln_calloc(m->cap, sizeof(*m->slots));
    for (i = 0; i < old.cap; i++)
        if (old.slots[i].key)
            *find(m, old.slots[i].key, old.slots[i].len,
                  old.slots[i].hash) = old.slots[i];
    free(old.slots);
}

bool kiln_dsl__strmap_get(const kiln_strmap *m, const char *key, size_t len,
                          size_t *value)
{
    kiln_strmap_slot *s;
    if (!m->cap)
        return false;
    s = find(m, key, len, hash(key, len));
    if (!s->key)
        return false;
    *value = s->value;
    return true;
}

void kiln_dsl__strmap_set(kiln_strmap *m, const char *key, size_t len,
                          size_t value)
{
    size_t old;
    if (!kiln_dsl__strmap_add(m, key, len, value, &old))
        find(m, key, len, hash(key, len))->value = value;
}

bool kiln_dsl__strmap_add(kiln_strmap *m, const char *key, size_t len,
                          size_t value, size_t *old)
{
    uint64_t h = hash(key, len);
    kiln_strmap_slot *s;
    if (!m->cap)
        kiln_dsl__strmap_init(m, 8);
    s = find(m, key, len, h);
    if (s->key) {
        *old = s->value;
        return false;
    }
    grow(m);
    s = find(m, key, len, h);
    s->key = key;
    s->len = len;
    s->hash = h;
    s->value = value;
    m->n++;
    return true;
}
