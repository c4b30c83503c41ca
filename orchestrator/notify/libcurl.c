/*
 * libcurl.c: libcurl, loaded the first time kiln calls it.
 *
 * libcurl brings some twenty libraries with it (TLS, Kerberos, LDAP,
 * SSH, HTTP/2, IDN, compression...), and loading and relocating them cost
 * every kiln process 6 to 7 ms at start: half of what `kiln runs` or
 * `kiln show` takes on a million runs. Only a few paths speak HTTP: kiln
 * serve's notifications and metrics read from URLs (http.c), and the
 * CLI's calls to a daemon's API (cli/api-client.c, kiln logs --follow).
 * So kiln is not linked with libcurl: the functions it calls are defined
 * here, with libcurl's names and types, and the first call of any of them
 * dlopen()s libcurl.so.4 and looks all of them up.
 *
 * When libcurl cannot be loaded, kiln says why once on stderr, and the
 * calls fail the way libcurl's do when it has no memory: curl_global_init()
 * returns an error, the constructors NULL; every caller already handles
 * that ("cannot initialise libcurl").
 */
#define CURL_DISABLE_TYPECHECK /* the functions themselves, not the checks */
#include <curl/curl.h>

#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>

#define LIBCURL "libcurl.so.4"

/* The real functions, named after libcurl's. */
#define FUNCTIONS(X)                                                        \
    X(CURLcode, curl_global_init, (long))                                   \
    X(CURL *, curl_easy_init, (void))                                       \
    X(CURLcode, curl_easy_setopt, (CURL *, CURLoption, ...))                \
    X(CURLcode, curl_easy_getinfo, (CURL *, CURLINFO, ...))                 \
    X(CURLcode, curl_easy_perform, (CURL *))                                \
    X(void, curl_easy_cleanup, (CURL *))                                    \
    X(const char *, curl_easy_strerror, (CURLcode))                         \
    X(char *, curl_easy_escape, (CURL *, const char *, int))                \
    X(void, curl_free, (void *))                                            \
    X(struct curl_slist *, curl_slist_append,                               \
      (struct curl_slist *, const char *))                                  \
    X(void, curl_slist_free_all, (struct curl_slist *))                     \
    X(CURLM *, curl_multi_init, (void))                                     \
    X(CURLMcode, curl_multi_setopt, (CURLM *, CURLMoption, ...))            \
    X(CURLMcode, curl_multi_add_handle, (CURLM *, CURL *))                  \
    X(CURLMcode, curl_multi_remove_handle, (CURLM *, CURL *))               \
    X(CURLMcode, curl_multi_socket_action,                                  \
      (CURLM *, curl_socket_t, int, int *))                                 \
    X(CURLMcode, curl_multi_assign, (CURLM *, curl_socket_t, void *))       \
    X(CURLMsg *, curl_multi_info_read, (CURLM *, int *))                    \
    X(const char *, curl_multi_strerror, (CURLMcode))                       \
    X(CURLMcode, curl_multi_cleanup, (CURLM *))

#define POINTER(ret, name, args) ret(*name) args;
static struct {
    FUNCTIONS(POINTER)
} real;
#undef POINTER

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int loaded; /* 1: every function found */

static void load(void)
{
    void *lib = dlopen(LIBCURL, RTLD_NOW | RTLD_LOCAL);
    const char *missing = NULL;
    if (!lib) {
        fprintf(stderr, "kiln: cannot load %s: %s\n", LIBCURL, dlerror());
        return;
    }
#define LOOK(ret, name, args)                                               \
    if (!(*(void **)&real.name = dlsym(lib, #name)) && !missing)           \
        missing = #name;
    FUNCTIONS(LOOK)
#undef LOOK
    if (missing) {
        fprintf(stderr, "kiln: %s has no %s\n", LIBCURL, missing);
        return;
    }
    loaded = 1;
}

static int ready(void)
{
    pthread_once(&once, load);
    return loaded;
}

CURLcode curl_global_init(long flags)
{
    return ready() ? real.curl_global_init(flags) : CURLE_FAILED_INIT;
}

CURL *curl_easy_init(void)
{
    return ready() ? real.curl_easy_init() : NULL;
}

/* Call fn(h, option, the option's value from ap): its type is in its
 * number (CURLOPTTYPE_*), a long, a pointer (data or function) or a
 * curl_off_t, each passed on as it came. */
#define FORWARD_OPTION(fn, h, option, ap)                                   \
    ((option) < CURLOPTTYPE_OBJECTPOINT                                     \
         ? fn(h, option, va_arg(ap, long))                                  \
     : (option) >= CURLOPTTYPE_OFF_T && (option) < CURLOPTTYPE_BLOB         \
         ? fn(h, option, va_arg(ap, curl_off_t))                            \
         : fn(h, option, va_arg(ap, void *)))

CURLcode curl_easy_setopt(CURL *h, CURLoption option, ...)
{
    CURLcode rc;
    va_list ap;
    if (!ready())
        return CURLE_FAILED_INIT;
    va_start(ap, option);
    rc = FORWARD_OPTION(real.curl_easy_setopt, h, option, ap);
    va_end(ap);
    return rc;
}

/* Every CURLINFO takes a pointer to where the value goes. */
CURLcode curl_easy_getinfo(CURL *h, CURLINFO info, ...)
{
    CURLcode rc;
    va_list ap;
    if (!ready())
        return CURLE_FAILED_INIT;
    va_start(ap, info);
    rc = real.curl_easy_getinfo(h, info, va_arg(ap, void *));
    va_end(ap);
    return rc;
}

CURLcode curl_easy_perform(CURL *h)
{
    return ready() ? real.curl_easy_perform(h) : CURLE_FAILED_INIT;
}

void curl_easy_cleanup(CURL *h)
{
    if (ready())
        real.curl_easy_cleanup(h);
}

const char *curl_easy_strerror(CURLcode code)
{
    return ready() ? real.curl_easy_strerror(code) : "libcurl not loaded";
}

char *curl_easy_escape(CURL *h, const char *s, int len)
{
    return ready() ? real.curl_easy_escape(h, s, len) : NULL;
}

void curl_free(void *p)
{
    if (ready())
        real.curl_free(p);
}

struct curl_slist *curl_slist_append(struct curl_slist *list, const char *s)
{
    return ready() ? real.curl_slist_append(list, s) : NULL;
}

void curl_slist_free_all(struct curl_slist *list)
{
    if (ready())
        real.curl_slist_free_all(list);
}

CURLM *curl_multi_init(void)
{
    return ready() ? real.curl_multi_init() : NULL;
}

CURLMcode curl_multi_setopt(CURLM *m, CURLMoption option, ...)
{
    CURLMcode rc;
    va_list ap;
    if (!ready())
        return CURLM_INTERNAL_ERROR;
    va_start(ap, option);
    rc = FORWARD_OPTION(real.curl_multi_setopt, m, option, ap);
    va_end(ap);
    return rc;
}

CURLMcode curl_multi_add_handle(CURLM *m, CURL *h)
{
    return ready() ? real.curl_multi_add_handle(m, h) : CURLM_INTERNAL_ERROR;
}

CURLMcode curl_multi_remove_handle(CURLM *m, CURL *h)
{
    return ready() ? real.curl_multi_remove_handle(m, h)
                   : CURLM_INTERNAL_ERROR;
}

CURLMcode curl_multi_socket_action(CURLM *m, curl_socket_t s, int mask,
                                   int *running)
{
    return ready() ? real.curl_multi_socket_action(m, s, mask, running)
                   : CURLM_INTERNAL_ERROR;
}

CURLMcode curl_multi_assign(CURLM *m, curl_socket_t s, void *p)
{
    return ready() ? real.curl_multi_assign(m, s, p) : CURLM_INTERNAL_ERROR;
}

CURLMsg *curl_multi_info_read(CURLM *m, int *left)
{
    return ready() ? real.curl_multi_info_read(m, left) : NULL;
}

const char *curl_multi_strerror(CURLMcode code)
{
    return ready() ? real.curl_multi_strerror(code) : "libcurl not loaded";
}

CURLMcode curl_multi_cleanup(CURLM *m)
{
    return ready() ? real.curl_multi_cleanup(m) : CURLM_INTERNAL_ERROR;
}
