/*
 * models.c: /api/v1/models: the model registry (versions, their metrics
 * and the aliases that point at them) read from the store; a version's
 * bytes, from the object store, checked against their hash; pointing an
 * alias at a version, or back at the one before, through the daemon's
 * hooks.
 */
#include "internal.h"

#include "base/hash.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* What GET /api/v1/models answers by default: of each model, its newest
 * versions and those an alias points at, and its aliases' newest moves.
 * A registry of long histories (2,500 versions a model, 50,000 in all)
 * answered everything in 32 MB and 21 s, on the loop. */
#define MODELS_LIMIT 20
#define HISTORY_LIMIT 100

/* GET /api/v1/models and /api/v1/models/{name}: versions (with the
 * params and key metrics of the run that made each), the newest ?limit=
 * of each model and those an alias points at; current aliases; the
 * newest ?history= moves of the aliases (0: all, for both); of one
 * model, every run of its deploy command too (deploys). */
void kiln_web__get_models(kiln_web_route_ctx *c)
{
    const char *name = c->n > 1 ? c->seg[1] : NULL;
    kiln_err err = KILN_ERR_INIT;
    json_t *versions, *aliases = NULL, *history, *doc;
    int64_t limit = MODELS_LIMIT, history_limit = HISTORY_LIMIT;
    if (!kiln_web__query_int(c, "limit", 0, INT32_MAX, &limit) ||
        !kiln_web__query_int(c, "history", 0, INT32_MAX, &history_limit))
        return;
    if (kiln_store_models_newest_json(c->w->o.store, &versions, name,
                                      (int)limit, true, &err) != 0) {
        kiln_web__fail(c, &err);
        return;
    }
    if (name && json_array_size(versions) == 0) {
        json_decref(versions);
        kiln_web__error(c->req, 404, "no model \"%s\"", name);
        return;
    }
    if (kiln_store_model_aliases_json(c->w->o.store, &aliases, &err) != 0 ||
        kiln_store_alias_history_json(c->w->o.store, &history, name,
                                      history_limit, &err) != 0) {
        json_decref(versions);
        json_decref(aliases);
        kiln_web__fail(c, &err);
        return;
    }
    doc = json_pack("{s:o, s:o, s:o, s:I, s:I}", "versions", versions,
                    "aliases", aliases, "history", history, "limit",
                    (json_int_t)limit, "history_limit",
                    (json_int_t)history_limit);
    if (name) {
        /* Its aliases only, and every run of its deploy command. */
        json_t *mine = json_array(), *a, *deploys;
        size_t i;
        json_array_foreach(aliases, i, a)
            if (strcmp(json_string_value(json_object_get(a, "name")),
                       name) == 0)
                json_array_append(mine, a);
        json_object_set_new(doc, "aliases", mine);
        if (kiln_store_deploys_json(c->w->o.store, &deploys, name, 0,
                                    &err) != 0) {
            json_decref(doc);
            kiln_web__fail(c, &err);
            return;
        }
        json_object_set_new(doc, "deploys", deploys);
    }
    kiln_web__reply(c, 200, doc);
}

/* An alias move the daemon answers once the model's deploy command has
 * ended. The client may hang up first: the move still completes (and is
 * audited), the answer goes nowhere. */
typedef struct move_job {
    kiln_web_later later;
    char *name, *alias;
} move_job;

static void on_moved(void *ctx, int rc, int version, const kiln_err *err)
{
    move_job *j = ctx;
    h2o_req_t *req = kiln_web__later_take(&j->later);
    if (req && rc != 0)
        kiln_web__fail_req(req, err);
    else if (req)
        kiln_web__json(req, 200, json_pack("{s:s, s:s, s:i}", "name",
                                           j->name, "alias", j->alias,
                                           "version", version),
                       NULL);
    free(j->name);
    free(j->alias);
    free(j);
}

static void move(kiln_web_route_ctx *c, int version)
{
    move_job *j = kiln_calloc(1, sizeof(*j));
    kiln_audit_who who = kiln_web__who(&c->who);
    kiln_web__later_init(&j->later, c->req);
    j->name = kiln_strdup(c->seg[1]);
    j->alias = kiln_strdup(c->seg[3]);
    c->w->o.hooks.move_model(c->w->o.hooks.data, j->name, j->alias, version,
                             &who, on_moved, j);
}

/* POST /api/v1/models/{name}/aliases/{alias} {version} */
void kiln_web__post_alias(kiln_web_route_ctx *c)
{
    json_t *body = kiln_web__body(c);
    json_int_t version;
    if (!body)
        return;
    if (!json_is_integer(json_object_get(body, "version")) ||
        (version = json_integer_value(json_object_get(body, "version"))) <
            1 ||
        version > INT_MAX) {
        json_decref(body);
        kiln_web__error(c->req, 400, "version: expected a positive integer");
        return;
    }
    json_decref(body);
    move(c, (int)version);
}

/* POST /api/v1/models/{name}/aliases/{alias}/rollback */
void kiln_web__post_rollback(kiln_web_route_ctx *c)
{
    move(c, 0);
}

/* POST /api/v1/models/{name}/aliases/{alias}/retire: the alias points
 * nowhere (a rollback brings the version back). */
void kiln_web__post_retire(kiln_web_route_ctx *c)
{
    kiln_web *w = c->w;
    kiln_err err = KILN_ERR_INIT;
    int was = 0;
    kiln_audit_who who = kiln_web__who(&c->who);
    if (w->o.hooks.retire_model(w->o.hooks.data, &was, c->seg[1], c->seg[3],
                                &who, &err) != 0) {
        kiln_web__fail(c, &err);
        return;
    }
    kiln_web__reply(c, 200, json_pack("{s:s, s:s, s:i, s:i}", "name",
                                      c->seg[1], "alias", c->seg[3],
                                      "version", 0, "was", was));
}

/* GET /api/v1/models/{name}/aliases/{alias}: where the alias points now,
 * so a model server elsewhere notices a promotion. */
void kiln_web__get_alias(kiln_web_route_ctx *c)
{
    kiln_err err = KILN_ERR_INIT;
    kiln_model_version v;
    char *file;
    if (kiln_store_model_find(c->w->o.store, &v, c->seg[1], c->seg[3], 0,
                              &err) != 0) {
        kiln_web__fail(c, &err);
        return;
    }
    file = kiln_asprintf("/api/v1/models/%s/versions/%d/file", v.name,
                         v.version);
    kiln_web__reply(c, 200, json_pack(
        "{s:s, s:s, s:i, s:s, s:b, s:I, s:I, s:s?, s:s}", "name", v.name,
        "alias", c->seg[3], "version", v.version, "sha256", v.sha256,
        "is_dir", v.is_dir, "size", (json_int_t)v.size, "run_id",
        (json_int_t)v.run_id, "git_commit", v.git_commit, "file",
        v.is_dir ? "" : file));
    free(file);
    kiln_model_version_dispose(&v);
}

/* A version's bytes being checked against their hash on the thread pool
 * before they are sent. The request may go first (the client hung up):
 * its pool's dispose callback then clears job->req. */
typedef struct file_job {
    uv_work_t work;
    h2o_req_t *req;          /* NULL once the request is gone */
    struct file_job **slot;  /* in req's pool, pointing back here */
    char *path;              /* the object */
    char *filename;          /* what the version was called */
    char sha256[KILN_HASH_HEX];
    char got[KILN_HASH_HEX];
    int64_t size;            /* of the object, once hashed */
    int rc;
} file_job;

/* The part of an object a Range asked for, sent a chunk at a time as
 * the client takes it. The memory is the request's; the descriptor is
 * closed with it. */
#define RANGE_CHUNK ((size_t)1 << 16)
typedef struct range_gen {
    h2o_generator_t super;   /* first: h2o hands it back to us */
    int fd;
    int64_t off, left;
    char *buf;               /* RANGE_CHUNK bytes, in the pool */
} range_gen;

static void on_req_gone(void *p)
{
    file_job *j = *(file_job **)p;
    if (j)
        j->req = NULL;
}

static void hash_object(uv_work_t *work)
{
    file_job *j = work->data;
    kiln_err err = KILN_ERR_INIT;
    struct stat sb;
    j->rc = kiln_hash_file(j->got, j->path, &err);
    j->size = j->rc == 0 && stat(j->path, &sb) == 0 ? (int64_t)sb.st_size
                                                     : -1;
}

static void add_header(h2o_req_t *req, const h2o_token_t *token,
                       const char *name, const char *value)
{
    size_t n = strlen(value);
    char *v = h2o_mem_alloc_pool(&req->pool, n + 1);
    memcpy(v, value, n + 1);
    if (token)
        h2o_add_header(&req->pool, &req->res.headers, token, NULL, v, n);
    else
        h2o_add_header_by_str(&req->pool, &req->res.headers, name,
                              strlen(name), 0, NULL, v, n);
}

static void range_send(range_gen *g, h2o_req_t *req)
{
    size_t want = g->left < (int64_t)RANGE_CHUNK ? (size_t)g->left
                                                 : RANGE_CHUNK;
    ssize_t n = pread(g->fd, g->buf, want, g->off);
    h2o_iovec_t iov;
    if (n <= 0) { /* cut short under us: end it, the length says so */
        h2o_send(req, NULL, 0, H2O_SEND_STATE_ERROR);
        return;
    }
    g->off += n;
    g->left -= n;
    iov = h2o_iovec_init(g->buf, (size_t)n);
    h2o_send(req, &iov, 1, g->left > 0 ? H2O_SEND_STATE_IN_PROGRESS
                                       : H2O_SEND_STATE_FINAL);
}

static void range_proceed(h2o_generator_t *gen, h2o_req_t *req)
{
    range_send((range_gen *)gen, req);
}

static void range_stop(h2o_generator_t *gen, h2o_req_t *req)
{
    (void)gen;
    (void)req;
}

static void range_dispose(void *p)
{
    range_gen *g = p;
    if (g->fd >= 0)
        close(g->fd);
}

/* A single "bytes=FIRST-LAST", "bytes=FIRST-" or "bytes=-SUFFIX" of an
 * object of size bytes, as [*first, *last]. 1: that range; 0: none to
 * honour (no header, several ranges, not bytes: the whole object, as
 * RFC 9110 allows); -1: past the end (416). */
static int parse_range(h2o_req_t *req, int64_t size, int64_t *first,
                       int64_t *last)
{
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_RANGE, -1);
    char text[64], *p, *end;
    long long a = -1, b = -1;

    if (i < 0 || req->headers.entries[i].value.len >= sizeof(text))
        return 0;
    memcpy(text, req->headers.entries[i].value.base,
           req->headers.entries[i].value.len);
    text[req->headers.entries[i].value.len] = '\0';
    if (strncmp(text, "bytes=", 6) != 0 || strchr(text, ','))
        return 0;
    p = text + 6;
    if (*p != '-') {
        if (*p < '0' || *p > '9')
            return 0;
        a = strtoll(p, &end, 10);
        if (*end != '-')
            return 0;
        p = end;
    }
    p++; /* the '-' */
    if (*p) {
        if (*p < '0' || *p > '9')
            return 0;
        b = strtoll(p, &end, 10);
        if (*end || (a >= 0 && b < a))
            return 0;
    }
    if (a < 0) { /* the last b bytes */
        if (b <= 0)
            return b == 0 ? -1 : 0;
        *first = b >= size ? 0 : size - b;
        *last = size - 1;
        return size > 0 ? 1 : -1;
    }
    if (a >= size)
        return -1;
    *first = a;
    *last = b < 0 || b >= size ? size - 1 : b;
    return 1;
}

/* An If-Range that is not this version's ETag asks for the whole. */
static bool if_range_ok(h2o_req_t *req, const char *etag)
{
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_IF_RANGE, -1);
    return i < 0 || (req->headers.entries[i].value.len == strlen(etag) &&
                     memcmp(req->headers.entries[i].value.base, etag,
                            strlen(etag)) == 0);
}

/* The headers of a 206 with bytes [first, last] of the object. */
static void range_headers(h2o_req_t *req, const file_job *j, int64_t first,
                          int64_t last)
{
    char cr[96];
    snprintf(cr, sizeof(cr), "bytes %lld-%lld/%lld", (long long)first,
             (long long)last, (long long)j->size);
    add_header(req, H2O_TOKEN_CONTENT_RANGE, NULL, cr);
}

/* 206 with bytes [first, last] of the object, or false when it cannot
 * be opened (gone since it was hashed). */
static bool send_range(h2o_req_t *req, const file_job *j, int64_t first,
                       int64_t last)
{
    range_gen *g;
    int fd = open(j->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    g = h2o_mem_alloc_shared(&req->pool, sizeof(*g), range_dispose);
    memset(g, 0, sizeof(*g));
    g->super.proceed = range_proceed;
    g->super.stop = range_stop;
    g->fd = fd;
    g->off = first;
    g->left = last - first + 1;
    g->buf = h2o_mem_alloc_pool(&req->pool, RANGE_CHUNK);
    range_headers(req, j, first, last);
    add_header(req, H2O_TOKEN_CONTENT_TYPE, NULL, "application/octet-stream");
    req->res.status = 206;
    req->res.reason = "Partial Content";
    req->res.content_length = (size_t)g->left;
    h2o_start_response(req, &g->super);
    range_send(g, req);
    return true;
}

static void object_hashed(uv_work_t *work, int status)
{
    file_job *j = work->data;
    h2o_req_t *req = j->req;
    (void)status;
    if (req) {
        *j->slot = NULL;
        if (j->rc != 0) {
            kiln_web__error(req, 410, "the bytes of this version are gone "
                            "from the object store");
        } else if (strcmp(j->got, j->sha256) != 0) {
            kiln_web__error(req, 500, "the bytes of this version in the "
                            "object store are corrupt (sha256 %.12s, "
                            "recorded %.12s)", j->got, j->sha256);
        } else {
            char *etag = kiln_asprintf("\"%s\"", j->sha256);
            char *disp = kiln_asprintf("attachment; filename=\"%s\"",
                                       j->filename);
            int64_t first = 0, last = 0;
            int ranged = j->size >= 0 && if_range_ok(req, etag)
                             ? parse_range(req, j->size, &first, &last)
                             : 0;
            add_header(req, NULL, "x-kiln-sha256", j->sha256);
            add_header(req, H2O_TOKEN_ETAG, NULL, etag);
            add_header(req, H2O_TOKEN_CONTENT_DISPOSITION, NULL, disp);
            /* h2o_file_send() says it itself. */
            if (ranged != 0 || kiln_web__is(req, "HEAD"))
                add_header(req, H2O_TOKEN_ACCEPT_RANGES, NULL, "bytes");
            free(etag);
            free(disp);
            if (ranged < 0) {
                char cr[48];
                snprintf(cr, sizeof(cr), "bytes */%lld", (long long)j->size);
                add_header(req, H2O_TOKEN_CONTENT_RANGE, NULL, cr);
                kiln_web__error(req, 416, "the range asked for is past the "
                                "end of the %lld bytes", (long long)j->size);
            } else if (kiln_web__is(req, "HEAD")) {
                /* What the GET would send, without the bytes. */
                if (ranged > 0)
                    range_headers(req, j, first, last);
                add_header(req, H2O_TOKEN_CONTENT_TYPE, NULL,
                           "application/octet-stream");
                kiln_web__send_head(req, ranged > 0 ? 206 : 200,
                                    ranged > 0 ? "Partial Content" : "OK",
                                    ranged > 0 ? last - first + 1
                                               : j->size);
            } else if (ranged > 0) {
                if (!send_range(req, j, first, last))
                    kiln_web__error(req, 410, "the bytes of this version "
                                    "are gone from the object store");
            } else if (h2o_file_send(req, 200, "OK", j->path,
                                     h2o_iovec_init(H2O_STRLIT(
                                         "application/octet-stream")),
                                     H2O_FILE_FLAG_NO_ETAG) != 0) {
                kiln_web__error(req, 410, "the bytes of this version are "
                                "gone from the object store");
            }
        }
    }
    free(j->path);
    free(j->filename);
    free(j);
}

/* GET /api/v1/models/{name}/versions/{version}/file: exactly the bytes
 * registered as that version, checked against their hash first (a
 * directory version has no single file: kiln models pull). A single
 * Range (bytes=A-B, A-, -N) gets 206 with those bytes, one past the end
 * 416; several ranges, or an If-Range that is not this version's ETag,
 * the whole file (a download resumed with curl -C -, wget -c). */
void kiln_web__get_version_file(kiln_web_route_ctx *c)
{
    kiln_err err = KILN_ERR_INIT;
    kiln_model_version v;
    int64_t version = kiln_web__id(c->seg[3]);
    const char *slash;
    file_job *j;

    if (version <= 0 || version > INT_MAX) {
        kiln_web__error(c->req, 400, "version: expected a positive integer");
        return;
    }
    if (kiln_store_model_find(c->w->o.store, &v, c->seg[1], NULL,
                              (int)version, &err) != 0) {
        kiln_web__fail(c, &err);
        return;
    }
    if (v.is_dir) {
        kiln_web__error(c->req, 409, "version %d of model %s is a "
                        "directory: kiln models pull %s:%d --to PATH",
                        v.version, v.name, v.name, v.version);
        kiln_model_version_dispose(&v);
        return;
    }
    j = kiln_calloc(1, sizeof(*j));
    j->work.data = j;
    j->req = c->req;
    j->path = kiln_asprintf("%s/objects/%.2s/%s", c->w->state_dir, v.sha256,
                            v.sha256 + 2);
    slash = strrchr(v.path, '/');
    j->filename = kiln_strdup(slash ? slash + 1 : v.path);
    /* A quote or a control character would break the header. */
    for (char *p = j->filename; *p; p++)
        if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20)
            *p = '_';
    snprintf(j->sha256, sizeof(j->sha256), "%s", v.sha256);
    kiln_model_version_dispose(&v);
    j->slot = h2o_mem_alloc_shared(&c->req->pool, sizeof(*j->slot),
                                   on_req_gone);
    *j->slot = j;
    uv_queue_work(c->w->o.loop, &j->work, hash_object, object_hashed);
}
