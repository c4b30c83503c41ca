/* api-client.c: one HTTP request to kiln serve's API with libcurl. */
#include "api-client.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static size_t on_data(char *ptr, size_t size, size_t n, void *userp)
{
    kiln_buf *b = userp;
    kiln_buf_add(b, ptr, size * n);
    return size * n;
}

/* Response headers asked for: values[i] for names[i]. */
typedef struct wanted_headers {
    size_t n;
    const char *const *names;
    char **values;
} wanted_headers;

static size_t on_header(char *ptr, size_t size, size_t n, void *userp)
{
    wanted_headers *w = userp;
    size_t len = size * n;
    for (size_t i = 0; i < w->n; i++) {
        size_t k = strlen(w->names[i]);
        if (len > k && ptr[k] == ':' && strncasecmp(ptr, w->names[i], k) == 0) {
            const char *v = ptr + k + 1, *end = ptr + len;
            while (v < end && (*v == ' ' || *v == '\t'))
                v++;
            while (end > v && (end[-1] == '\r' || end[-1] == '\n' ||
                               end[-1] == ' '))
                end--;
            free(w->values[i]);
            w->values[i] = kiln_asprintf("%.*s", (int)(end - v), v);
        }
    }
    return len;
}

/* METHOD base_url + path: *status, the body in out, the headers w asks
 * for. */
static int perform(long *status, kiln_buf *out, wanted_headers *w,
                   const char *method, const char *base_url,
                   const char *path, json_t *body, const char *token,
                   kiln_err *err)
{
    CURL *c = curl_easy_init();
    struct curl_slist *h = NULL;
    char errbuf[CURL_ERROR_SIZE] = "", *url, *text = NULL, *auth = NULL;
    size_t n = strlen(base_url);
    CURLcode rc;

    *status = 0;
    if (!c)
        return kiln_err_set(err, KILN_ERROR, "cannot initialise libcurl");
    url = kiln_asprintf("%.*s%s", (int)(n && base_url[n - 1] == '/' ? n - 1
                                                                   : n),
                        base_url, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    if (w) {
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(c, CURLOPT_HEADERDATA, w);
    }
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_USERAGENT, "kiln/" KILN_VERSION);
    /* A kiln serve whose certificate no system CA signed (self-signed, a
     * company CA): the CA bundle to check it with. */
    if (getenv("KILN_CACERT") && *getenv("KILN_CACERT"))
        curl_easy_setopt(c, CURLOPT_CAINFO, getenv("KILN_CACERT"));
    if (body) {
        text = json_dumps(body, JSON_COMPACT);
        h = curl_slist_append(h, "Content-Type: application/json");
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, text);
    }
    if (token) {
        auth = kiln_asprintf("Authorization: Bearer %s", token);
        h = curl_slist_append(h, auth);
    }
    if (h)
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    rc = curl_easy_perform(c);
    if (rc != CURLE_OK)
        kiln_err_set(err, KILN_ERROR, "%s: %s", url,
                     errbuf[0] ? errbuf : curl_easy_strerror(rc));
    else
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    free(text);
    free(auth);
    free(url);
    return rc == CURLE_OK ? 0 : KILN_ERROR;
}

int kiln_api_call(long *status, json_t **reply, const char *method,
                  const char *base_url, const char *path, json_t *body,
                  const char *token, kiln_err *err)
{
    kiln_buf out = KILN_BUF_INIT;
    int rc = perform(status, &out, NULL, method, base_url, path, body,
                     token, err);
    *reply = rc == 0 ? json_loadb(kiln_buf_cstr(&out), out.len, 0, NULL)
                     : NULL;
    kiln_buf_dispose(&out);
    return rc;
}

int kiln_api_get_bytes(long *status, kiln_buf *body, const char *base_url,
                       const char *path, const char *token, size_t n_names,
                       const char *const *names, char **values,
                       kiln_err *err)
{
    wanted_headers w = {n_names, names, values};
    for (size_t i = 0; i < n_names; i++)
        values[i] = NULL;
    return perform(status, body, &w, "GET", base_url, path, NULL, token,
                   err);
}
