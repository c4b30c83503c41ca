/* hash.c: SHA-256 through libcrypto's EVP interface. */
#include "hash.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <unistd.h>

static void to_hex(char out[KILN_HASH_HEX], const unsigned char *md,
                   unsigned n)
{
    static const char digits[] = "0123456789abcdef";
    for (unsigned i = 0; i < n; i++) {
        out[2 * i] = digits[md[i] >> 4];
        out[2 * i + 1] = digits[md[i] & 15];
    }
    out[2 * n] = '\0';
}

/* SHA-256 fetched once (from any thread): EVP_sha256() makes each
 * digest look the algorithm up again, most of the time a 100-byte
 * document takes (two of them a step). */
static EVP_MD *sha256;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void sha256_fetch(void)
{
    sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static const EVP_MD *sha256_md(void)
{
    pthread_once(&sha256_once, sha256_fetch);
    return sha256 ? sha256 : EVP_sha256();
}

void kiln_hash_bytes(char out[KILN_HASH_HEX], const void *data, size_t len)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    EVP_Digest(data, len, md, &n, sha256_md(), NULL);
    to_hex(out, md, n);
}

int kiln_hash_file(char out[KILN_HASH_HEX], const char *path, kiln_err *err)
{
    unsigned char md[EVP_MAX_MD_SIZE], chunk[1 << 16];
    unsigned n = 0;
    EVP_MD_CTX *ctx;
    ssize_t got;
    int fd, rc = 0;

    if ((fd = kiln_open_regular(path, err)) < 0)
        return fd;
    ctx = EVP_MD_CTX_new();
    if (!ctx)
        kiln_fatal("EVP_MD_CTX_new failed");
    EVP_DigestInit_ex(ctx, sha256_md(), NULL);
    while ((got = read(fd, chunk, sizeof(chunk))) != 0) {
        if (got < 0) {
            if (errno == EINTR)
                continue;
            rc = kiln_err_set_os(err, "cannot read %s", path);
            goto done;
        }
        EVP_DigestUpdate(ctx, chunk, (size_t)got);
    }
    EVP_DigestFinal_ex(ctx, md, &n);
    to_hex(out, md, n);
done:
    EVP_MD_CTX_free(ctx);
    close(fd);
    return rc;
}
