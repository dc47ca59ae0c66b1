/*
 * media.c: where an article's image bytes come from and what they are.
 *
 * Bytes come from one of two places and nowhere else. A relative path is
 * resolved under one root folder (the JSON file's folder or [media] root):
 * `..` that climbs above the root is refused before the file system is
 * touched, and the realpath() of the result must still lie under the
 * realpath() of the root, which also catches symlinks that point outside.
 * An http(s) URL is fetched with libcurl, limited to http and https on every
 * hop, with a redirect count, a time-out and a byte cap that the write
 * callback enforces while the body arrives, so an oversize or endless
 * response costs at most the cap. The fetch cannot be pointed inside
 * (SSRF): redirects are followed here, one hop at a time, each hop's host
 * checked against [media] fetch_allow_hosts when that is set, and every
 * address libcurl is about to connect is judged in its open-socket
 * callback: only public unicast addresses (net_addr_public) or those in
 * [media] fetch_allow_nets. No proxy from the environment is used (its
 * address would be judged instead of the target's). Every refusal has the
 * same text, so the errors do not map what listens inside.
 *
 * What the bytes are is decided by their first bytes only (the name and the
 * server's Content-Type are never trusted); the dimensions are read from the
 * format's own header when it is within reach. Nothing here touches the
 * database except through media_store.c.
 */
#include "media.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "crypto.h"
#include "date.h"
#include "net.h"
#include "utf8.h"

/* ---- sniffing ---------------------------------------------------------- */

static unsigned be16(const unsigned char *p)
{
    return (unsigned)p[0] << 8 | p[1];
}

static unsigned long be32(const unsigned char *p)
{
    return (unsigned long)p[0] << 24 | (unsigned long)p[1] << 16 | (unsigned long)p[2] << 8 | p[3];
}

static unsigned le16(const unsigned char *p)
{
    return (unsigned)p[1] << 8 | p[0];
}

static unsigned long le24(const unsigned char *p)
{
    return (unsigned long)p[2] << 16 | (unsigned long)p[1] << 8 | p[0];
}

/*
 * JPEG (ITU T.81 §B.1.1): markers FF xx, most followed by a 2-byte length;
 * the frame header SOFn (C0..CF except C4 DHT, C8 JPG, CC DAC) holds
 * precision(1), height(2), width(2). Stops at SOS/EOI: no SOF before the scan
 * means unknown dimensions.
 */
static void jpeg_size(const unsigned char *p, size_t n, int *w, int *h)
{
    size_t i = 2;
    while (i + 1 < n) {
        unsigned m;
        if (p[i] != 0xFF)
            return;
        while (i < n && p[i] == 0xFF)
            i++;
        if (i >= n)
            return;
        m = p[i++];
        if (m == 0xD8 || m == 0x01 || (m >= 0xD0 && m <= 0xD7))
            continue;
        if (m == 0xD9 || m == 0xDA || i + 2 > n)
            return;
        unsigned len = be16(p + i);
        if (len < 2)
            return;
        if (m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC) {
            if (i + 7 > n)
                return;
            *h = (int)be16(p + i + 3);
            *w = (int)be16(p + i + 5);
            return;
        }
        i += len;
    }
}

/* WebP container (RFC 9649 §2.5..2.7): the first chunk after "WEBP" decides. */
static void webp_size(const unsigned char *p, size_t n, int *w, int *h)
{
    if (n < 30)
        return;
    if (!memcmp(p + 12, "VP8 ", 4)) {
        /* lossy: 3-byte frame tag, start code 9D 01 2A, then 14-bit sizes (RFC 6386 §9.1) */
        if (p[23] == 0x9D && p[24] == 0x01 && p[25] == 0x2A) {
            *w = (int)(le16(p + 26) & 0x3FFF);
            *h = (int)(le16(p + 28) & 0x3FFF);
        }
    } else if (!memcmp(p + 12, "VP8L", 4)) {
        /* lossless: signature 0x2F, then width-1 and height-1 in 14 bits each (§3.2.1) */
        if (p[20] == 0x2F) {
            unsigned long b = (unsigned long)p[21] | (unsigned long)p[22] << 8 |
                              (unsigned long)p[23] << 16 | (unsigned long)p[24] << 24;
            *w = (int)(b & 0x3FFF) + 1;
            *h = (int)((b >> 14) & 0x3FFF) + 1;
        }
    } else if (!memcmp(p + 12, "VP8X", 4)) {
        /* extended: flags(1) reserved(3), canvas width-1 and height-1 in 24 bits */
        *w = (int)le24(p + 24) + 1;
        *h = (int)le24(p + 27) + 1;
    }
}

enum merr media_sniff(const unsigned char *p, size_t n, struct media_info *info)
{
    const char *type = NULL;
    int w = 0, h = 0;

    memset(info, 0, sizeof *info);
    if (n >= 3 && p[0] == 0xFF && p[1] == 0xD8 && p[2] == 0xFF) {
        type = "image/jpeg";
        jpeg_size(p, n, &w, &h);
    } else if (n >= 8 && !memcmp(p, "\x89PNG\r\n\x1a\n", 8)) {
        type = "image/png";
        /* PNG §11.2.2: IHDR is the first chunk: length, "IHDR", width, height */
        if (n >= 24 && !memcmp(p + 12, "IHDR", 4) && be32(p + 16) <= INT_MAX &&
            be32(p + 20) <= INT_MAX) {
            w = (int)be32(p + 16);
            h = (int)be32(p + 20);
        }
    } else if (n >= 6 && (!memcmp(p, "GIF87a", 6) || !memcmp(p, "GIF89a", 6))) {
        type = "image/gif";
        /* GIF89a §18: logical screen width and height, little-endian */
        if (n >= 10) {
            w = (int)le16(p + 6);
            h = (int)le16(p + 8);
        }
    } else if (n >= 12 && !memcmp(p, "RIFF", 4) && !memcmp(p + 8, "WEBP", 4)) {
        type = "image/webp";
        webp_size(p, n, &w, &h);
    }
    if (!type)
        return merr_set(MERR_INVAL, "not an image (the bytes are not JPEG, PNG, GIF or WebP)");
    snprintf(info->content_type, sizeof info->content_type, "%s", type);
    info->size = n;
    info->width = w;
    info->height = h;
    crypto_sha256_hex(info->sha256, p, n);
    return MERR_OK;
}

const char *media_extension(const char *content_type)
{
    if (!strcmp(content_type, "image/jpeg"))
        return "jpg";
    if (!strcmp(content_type, "image/png"))
        return "png";
    if (!strcmp(content_type, "image/gif"))
        return "gif";
    if (!strcmp(content_type, "image/webp"))
        return "webp";
    return "bin";
}

/* ---- names ------------------------------------------------------------- */

int media_is_http_url(const char *src)
{
    const char *host;
    if (!strncasecmp(src, "http://", 7))
        host = src + 7;
    else if (!strncasecmp(src, "https://", 8))
        host = src + 8;
    else
        return 0;
    if (!*host || strchr("/?#:@", *host))
        return 0;
    for (const unsigned char *q = (const unsigned char *)src; *q; q++)
        if (*q <= 0x20 || *q == 0x7F)
            return 0;
    return 1;
}

/* 1 if `src` starts with a URI scheme (RFC 3986 §3.1: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
 * ":"). */
static int has_scheme(const char *src)
{
    const char *q = src;
    if (!isalpha((unsigned char)*q))
        return 0;
    while (isalnum((unsigned char)*q) || *q == '+' || *q == '-' || *q == '.')
        q++;
    return *q == ':';
}

static int ext_matches(const char *ext, const char *content_type)
{
    if (!strcmp(content_type, "image/jpeg"))
        return !strcasecmp(ext, "jpg") || !strcasecmp(ext, "jpeg") || !strcasecmp(ext, "jpe");
    return !strcasecmp(ext, media_extension(content_type));
}

static int ext_is_image(const char *ext)
{
    static const char *const known[] = {"jpg", "jpeg", "jpe", "png", "gif", "webp"};
    for (size_t i = 0; i < sizeof known / sizeof *known; i++)
        if (!strcasecmp(ext, known[i]))
            return 1;
    return 0;
}

/* 1 for a character that must not show in a name: C1, invisible, direction changes. */
static int name_hidden(uint32_t cp)
{
    return (cp >= 0x80 && cp < 0xA0) || (cp >= 0x200B && cp <= 0x200F) ||
           (cp >= 0x202A && cp <= 0x202E) || cp == 0x2028 || cp == 0x2029 ||
           (cp >= 0x2060 && cp <= 0x206F) || cp == 0xFEFF;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

char *media_safe_filename(const char *src, const char *content_type)
{
    const char *base = src, *end, *q;
    char name[128], seg[400] = "";
    size_t k = 0, n = 0;
    char *dot, *out;
    const char *ext = media_extension(content_type);

    if (media_is_http_url(src)) {
        /* the last path segment, without query or fragment (RFC 3986 §3.3) */
        const char *host = strstr(src, "://") + 3;
        end = src + strcspn(src, "?#");
        base = end; /* no path after the host: no name */
        for (q = host; q < end; q++)
            if (*q == '/')
                base = q + 1;
        /* %XX-decoded (RFC 3986 §2.1), kept only if that is UTF-8 */
        for (q = base; q < end && n + 1 < sizeof seg; q++) {
            if (*q == '%' && end - q >= 3 && hexval(q[1]) >= 0 && hexval(q[2]) >= 0) {
                seg[n++] = (char)(hexval(q[1]) * 16 + hexval(q[2]));
                q += 2;
            } else {
                seg[n++] = *q;
            }
        }
        if (utf8_valid(seg, n, NULL)) {
            base = seg;
            end = seg + n;
        }
    } else {
        end = src + strlen(src);
        q = strrchr(src, '/');
        base = q ? q + 1 : src;
    }
    for (q = base; q < end;) {
        unsigned char c = (unsigned char)*q;
        uint32_t cp = c;
        size_t len = 1;
        if (c >= 0x80) {
            len = utf8_decode(q, (size_t)(end - q), &cp);
            if (len == 0)
                len = 1, cp = 0x80; /* invalid: replaced */
        }
        if (k + len > 100)
            break;
        if (c >= 0x80 && !name_hidden(cp)) {
            memcpy(name + k, q, len);
            k += len;
        } else if (isalnum(c) || c == '.' || c == '_' || c == '-' || (c == ' ' && k > 0)) {
            name[k++] = (char)c;
        } else {
            name[k++] = '_';
        }
        q += len;
    }
    name[k] = '\0';
    for (size_t i = 0; i < k && name[i] == '.'; i++)
        name[i] = '_';
    dot = strrchr(name, '.');
    if (dot && dot != name) {
        if (ext_matches(dot + 1, content_type)) {
            return strdup(name);
        }
        if (ext_is_image(dot + 1))
            *dot = '\0';
    }
    if (!name[0])
        snprintf(name, sizeof name, "image");
    size_t need = strlen(name) + 1 + strlen(ext) + 1;
    out = malloc(need);
    if (out)
        snprintf(out, need, "%s.%s", name, ext);
    return out;
}

/* ---- reading files ----------------------------------------------------- */

/* 1 if the `..` components of relative `src` climb above its start. */
static int climbs_out(const char *src)
{
    int depth = 0;
    const char *p = src;
    while (*p) {
        size_t n = strcspn(p, "/");
        if (n == 2 && p[0] == '.' && p[1] == '.') {
            if (--depth < 0)
                return 1;
        } else if (n > 0 && !(n == 1 && p[0] == '.')) {
            depth++;
        }
        p += n;
        if (*p == '/')
            p++;
    }
    return 0;
}

enum merr media_read_file(const char *root, const char *src, size_t max, struct buf *out)
{
    char rootreal[PATH_MAX], joined[PATH_MAX], real[PATH_MAX];
    size_t rlen, start = out->len;
    struct stat st;
    enum merr rc = MERR_OK;
    int fd = -1;

    if (!src[0])
        return merr_set(MERR_INVAL, "empty image path");
    if (src[0] == '/')
        return merr_set(MERR_INVAL,
                        "\"%.200s\": absolute paths are refused: give a path relative to the "
                        "article's folder",
                        src);
    if (climbs_out(src))
        return merr_set(MERR_INVAL, "\"%.200s\" escapes its folder", src);
    if (!realpath(root, rootreal))
        return merr_set(MERR_IO, "image folder %.200s: %s", root, strerror(errno));
    if ((size_t)snprintf(joined, sizeof joined, "%s/%s", rootreal, src) >= sizeof joined)
        return merr_set(MERR_INVAL, "\"%.200s\": path too long", src);
    if (!realpath(joined, real)) {
        if (errno == ENOENT || errno == ENOTDIR) /* bad data, not a missing article */
            return merr_set(MERR_INVAL, "%.200s: no such file", src);
        if (errno == ELOOP || errno == ENAMETOOLONG)
            return merr_set(MERR_INVAL, "%.200s: %s", src, strerror(errno));
        return merr_set(MERR_IO, "%.200s: %s", src, strerror(errno));
    }
    rlen = strlen(rootreal);
    if (strcmp(rootreal, "/") != 0 && (strncmp(real, rootreal, rlen) != 0 || real[rlen] != '/'))
        return merr_set(MERR_INVAL, "\"%.200s\" escapes its folder (it resolves to %.200s)", src,
                        real);
    /* O_NONBLOCK: a FIFO planted under the root must not hang us before fstat */
    fd = open(real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0)
        return merr_set(MERR_IO, "%.200s: %s", src, strerror(errno));
    if (fstat(fd, &st) != 0) {
        rc = merr_set(MERR_IO, "%.200s: %s", src, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = merr_set(MERR_INVAL, "%.200s: not a regular file", src);
        goto out;
    }
    if ((unsigned long long)st.st_size > max) {
        rc = merr_set(MERR_LIMIT,
                      "%.200s: %lld bytes is over the image size limit of %zu bytes "
                      "([limits] image_max_bytes)",
                      src, (long long)st.st_size, max);
        goto out;
    }
    for (;;) {
        char tmp[65536];
        ssize_t n = read(fd, tmp, sizeof tmp);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = merr_set(MERR_IO, "%.200s: %s", src, strerror(errno));
            goto out;
        }
        if (n == 0)
            break;
        if (out->len - start + (size_t)n > max) {
            rc = merr_set(MERR_LIMIT,
                          "%.200s: over the image size limit of %zu bytes ([limits] "
                          "image_max_bytes)",
                          src, max);
            goto out;
        }
        rc = buf_append(out, tmp, (size_t)n);
        if (rc)
            goto out;
    }
out:
    if (fd >= 0)
        close(fd);
    if (rc)
        buf_truncate(out, start);
    return rc;
}

/* ---- fetching URLs ----------------------------------------------------- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

struct fetch {
    struct buf *out;
    size_t start;
    size_t max;
    int over;
    enum merr rc;
    struct net_cidrs allow; /* [media] fetch_allow_nets */
    int refused;            /* a connection to a refused address was asked for */
};

static size_t fetch_write(char *p, size_t size, size_t nmemb, void *arg)
{
    struct fetch *f = arg;
    size_t n = size * nmemb;
    if (f->out->len - f->start + n > f->max) {
        f->over = 1;
        return 0; /* makes curl stop with CURLE_WRITE_ERROR */
    }
    f->rc = buf_append(f->out, p, n);
    return f->rc ? 0 : n;
}

/*
 * libcurl asks here for every socket it would connect, with the address it
 * resolved and is about to connect (every hop, every address of a host
 * name, IPv4 and IPv6): the address is judged, not the name, so a name
 * that resolves to 127.0.0.1, a second answer that does (DNS rebinding)
 * and spellings like 0x7f000001 are all refused before any packet leaves.
 */
static curl_socket_t fetch_open(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
    struct fetch *f = arg;
    if (purpose != CURLSOCKTYPE_IPCXN ||
        !(net_addr_public(&a->addr) || net_cidrs_match(&f->allow, &a->addr))) {
        f->refused = 1;
        return CURL_SOCKET_BAD;
    }
    return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

/* 1 if `host` is one of the comma- or space-separated names of `list` (any case). */
static int host_listed(const char *list, const char *host)
{
    size_t hl = strlen(host);
    for (const char *p = list; *p;) {
        size_t n;
        p += strspn(p, ", \t");
        n = strcspn(p, ", \t");
        if (n && n == hl && strncasecmp(p, host, n) == 0)
            return 1;
        p += n;
    }
    return 0;
}

/*
 * Checks one hop's URL before it is asked for: 0 if it may be fetched, 1
 * if its scheme is not http(s), 2 if the policy refuses its host.
 */
static int hop_check(const struct config *cfg, const char *url)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL;
    int verdict = 2;
    if (!u || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK)
        goto out;
    if (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0) {
        verdict = 1;
        goto out;
    }
    if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
        goto out;
    if (cfg->fetch_allow_hosts && cfg->fetch_allow_hosts[0] &&
        !host_listed(cfg->fetch_allow_hosts, host))
        goto out;
    verdict = 0;
out:
    curl_free(scheme);
    curl_free(host);
    curl_url_cleanup(u);
    return verdict;
}

/*
 * One text for every refusal of the policy, whatever refused (loopback,
 * private, link-local, a host not on the list, on the first hop or a
 * later one): the answer tells nothing about what listens inside.
 */
static enum merr refused(const char *url)
{
    return merr_set(MERR_INVAL,
                    "%.200s: not fetched: images are fetched only from public addresses "
                    "([media] fetch_allow_hosts, fetch_allow_nets)",
                    url);
}

enum merr media_fetch(const struct config *cfg, const char *url, struct buf *out)
{
    struct fetch f = {out, out->len, cfg->image_max_bytes, 0, MERR_OK, {NULL, 0}, 0};
    char errbuf[CURL_ERROR_SIZE] = "";
    char *hop = NULL;
    CURL *h = NULL;
    CURLcode cc = CURLE_OK;
    long status = 0;
    enum merr rc = MERR_OK;
    double deadline = date_mono() + cfg->fetch_timeout_s;

    if (!media_is_http_url(url))
        return merr_set(MERR_INVAL, "%.200s: not an http(s) URL", url);
    rc = net_cidrs_parse(&f.allow, cfg->fetch_allow_nets, "[media] fetch_allow_nets");
    if (rc)
        return rc;
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK || !(h = curl_easy_init())) {
        rc = merr_set(MERR_INTERNAL, "%.200s: cannot initialise libcurl", url);
        goto out;
    }
    if (!(hop = strdup(url))) {
        rc = merr_set(MERR_NOMEM, "out of memory");
        goto out;
    }
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L); /* each hop is checked here */
    curl_easy_setopt(h, CURLOPT_PROXY, "");          /* no proxy from the environment */
    curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, fetch_open);
    curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, &f);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)cfg->image_max_bytes);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "mailer/" MAILER_VERSION);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, fetch_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &f);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    for (int hops = 0;; hops++) {
        char *next = NULL;
        long left_ms = (long)((deadline - date_mono()) * 1000);
        int verdict = hop_check(cfg, hop);
        if (verdict == 1) {
            rc = merr_set(MERR_INVAL, "%.200s: redirected to a scheme other than http(s)", url);
            goto out;
        }
        if (verdict) {
            rc = refused(url);
            goto out;
        }
        if (left_ms <= 0) {
            cc = CURLE_OPERATION_TIMEDOUT;
            break;
        }
        errbuf[0] = '\0';
        curl_easy_setopt(h, CURLOPT_URL, hop);
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, left_ms);
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, left_ms);
        cc = curl_easy_perform(h);
        status = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        if (f.refused) {
            rc = refused(url);
            goto out;
        }
        if (cc != CURLE_OK || status < 300 || status >= 400 ||
            curl_easy_getinfo(h, CURLINFO_REDIRECT_URL, &next) != CURLE_OK || !next)
            break;
        /* RFC 9110 §15.4: a redirect; its body is not the image */
        if (hops >= cfg->fetch_max_redirects) {
            cc = CURLE_TOO_MANY_REDIRECTS;
            break;
        }
        buf_truncate(out, f.start);
        free(hop);
        if (!(hop = strdup(next))) {
            rc = merr_set(MERR_NOMEM, "out of memory");
            goto out;
        }
    }
    if (f.over || cc == CURLE_FILESIZE_EXCEEDED) {
        rc = merr_set(MERR_LIMIT,
                      "%.200s: response is over the image size limit of %zu bytes ([limits] "
                      "image_max_bytes)",
                      url, cfg->image_max_bytes);
    } else if (f.rc) {
        rc = merr_wrap(f.rc, "%.200s", url);
    } else if (cc == CURLE_OPERATION_TIMEDOUT) {
        rc = merr_set(MERR_TEMPFAIL, "%.200s: timed out after %d s ([limits] fetch_timeout)", url,
                      cfg->fetch_timeout_s);
    } else if (cc == CURLE_TOO_MANY_REDIRECTS) {
        rc = merr_set(MERR_INVAL, "%.200s: more than %d redirects ([limits] fetch_max_redirects)",
                      url, cfg->fetch_max_redirects);
    } else if (cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_HOST ||
               cc == CURLE_RECV_ERROR || cc == CURLE_SEND_ERROR || cc == CURLE_GOT_NOTHING ||
               cc == CURLE_PARTIAL_FILE) {
        rc =
            merr_set(MERR_TEMPFAIL, "%.200s: %s", url, errbuf[0] ? errbuf : curl_easy_strerror(cc));
    } else if (cc != CURLE_OK) {
        rc = merr_set(MERR_INVAL, "%.200s: %s", url, errbuf[0] ? errbuf : curl_easy_strerror(cc));
    } else if (status >= 500) {
        rc = merr_set(MERR_TEMPFAIL, "%.200s: HTTP status %ld", url, status);
    } else if (status >= 300) {
        rc = merr_set(MERR_INVAL, "%.200s: HTTP status %ld", url, status);
    } else if (out->len == f.start) {
        rc = merr_set(MERR_INVAL, "%.200s: empty response", url);
    }
out:
    curl_easy_cleanup(h);
    free(hop);
    net_cidrs_free(&f.allow);
    if (rc)
        buf_truncate(out, f.start);
    return rc;
}

/* ---- loading ----------------------------------------------------------- */

enum merr media_load(const struct config *cfg, const char *base_dir, const char *src,
                     struct buf *out, struct media_info *info)
{
    size_t start = out->len;
    enum merr rc;

    if (media_is_http_url(src)) {
        rc = media_fetch(cfg, src, out);
    } else if (has_scheme(src) || !strncmp(src, "//", 2)) {
        rc = merr_set(MERR_INVAL, "\"%.200s\": only a relative path or an http(s) URL is allowed",
                      src);
    } else {
        const char *root = cfg->media_root && cfg->media_root[0] ? cfg->media_root : base_dir;
        rc = media_read_file(root, src, cfg->image_max_bytes, out);
    }
    if (rc)
        return rc;
    rc = media_sniff((const unsigned char *)out->data + start, out->len - start, info);
    if (rc) {
        merr_wrap(rc, "%.200s", src);
        buf_truncate(out, start);
    }
    return rc;
}
