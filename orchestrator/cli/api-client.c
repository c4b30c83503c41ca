/* api-client.c: one HTTP request to kiln serve's API with libcurl. */
#include "api-client.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

static size_t on_data(char *ptr, size_t size, size_t n, void *userp)
{
    kiln_buf *b = userp;
    kiln_buf_add(b, ptr, size * n);
    return size * n;
}

int kiln_api_call(long *status, json_t **reply, const char *method,
                  const char *base_url, const char *path, json_t *body,
                  const char *token, kiln_err *err)
{
    CURL *c = curl_easy_init();
    struct curl_slist *h = NULL;
    kiln_buf out = KILN_BUF_INIT;
    char errbuf[CURL_ERROR_SIZE] = "", *url, *text = NULL, *auth = NULL;
    size_t n = strlen(base_url);
    CURLcode rc;

    *status = 0;
    *reply = NULL;
    if (!c)
        return kiln_err_set(err, KILN_ERROR, "cannot initialise libcurl");
    url = kiln_asprintf("%.*s%s", (int)(n && base_url[n - 1] == '/' ? n - 1
                                                                   : n),
                        base_url, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &out);
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
    if (rc != CURLE_OK) {
        kiln_err_set(err, KILN_ERROR, "%s: %s", url,
                     errbuf[0] ? errbuf : curl_easy_strerror(rc));
    } else {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
        *reply = json_loadb(kiln_buf_cstr(&out), out.len, 0, NULL);
    }
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    kiln_buf_dispose(&out);
    free(text);
    free(auth);
    free(url);
    return rc == CURLE_OK ? 0 : KILN_ERROR;
}
