/*
 * bench_compose.c: personalized messages per second on one core.
 *
 * Loads the sample articles into a fresh database, builds one plan per
 * kind (a share of the 7-photo article, a digest of the six samples) and
 * renders N recipients from it, each with its own name, address,
 * Message-ID and unsubscribe link, as delivery workers do. Prints
 * "KIND msgs/s bytes/msg" lines for run.sh, and writes one message of each
 * kind (share.eml, digest.eml) for the Python baseline to rebuild.
 *
 * usage: bench_compose SOURCE_DIR WORK_DIR SECONDS
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "articles.h"
#include "compose.h"
#include "config.h"
#include "date.h"
#include "db.h"
#include "tpl.h"

static const char *samples[] = {"ha-giang-tong-ket-thi-dua-2021", "tin-bac-me-lam-san-20210813",
                                "tin-ca-do-bong-da-20210928",     "tin-cuu-chien-binh-20211008",
                                "tin-nguoi-khuyet-tat-20211020",  "tin-pccc-20211005"};

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int bench(struct compose_plan *plan, const char *kind, int list, double seconds,
                 const char *sample_path)
{
    struct buf out;
    char name[64], email[64], mid[64], unsub[128];
    long n = 0;
    size_t bytes = 0;
    double t0 = now(), t;
    buf_init(&out, 0);
    do {
        for (int k = 0; k < 200; k++, n++) {
            struct compose_recipient r = {0};
            snprintf(name, sizeof name, "Người nhận số %ld", n);
            snprintf(email, sizeof email, "nguoi%ld@example.com", n);
            snprintf(mid, sizeof mid, "%ld.bench@hagiang.example", n);
            snprintf(unsub, sizeof unsub, "https://tin.hagiang.example/unsubscribe/tok%ldabcdef",
                     n);
            r.email = email;
            r.name = name;
            r.message_id = mid;
            if (list) {
                r.list_id = "tin-tuc.hagiang.example";
                r.unsubscribe_url = unsub;
                r.unsubscribe_mailto = "mailto:unsubscribe@hagiang.example?subject=unsubscribe";
            }
            buf_reset(&out);
            if (compose_render(plan, &r, &out)) {
                fprintf(stderr, "render: %s\n", merr_msg());
                return 1;
            }
            bytes += out.len;
        }
        t = now() - t0;
    } while (t < seconds);
    printf("%s %.0f %zu\n", kind, (double)n / t, bytes / (size_t)n);
    if (sample_path) {
        FILE *f = fopen(sample_path, "wb");
        if (!f || fwrite(out.data, 1, out.len, f) != out.len || fclose(f))
            return 1;
    }
    buf_free(&out);
    return 0;
}

int main(int argc, char **argv)
{
    struct config cfg;
    struct db *db = NULL;
    struct tpl_set *tpls = NULL;
    struct compose_env env = {0};
    struct compose_plan *share = NULL, *digest = NULL;
    char path[1024];
    json_t *in;
    double seconds;
    int rc = 1;

    if (argc != 4) {
        fprintf(stderr, "usage: bench_compose SOURCE_DIR WORK_DIR SECONDS\n");
        return 2;
    }
    seconds = atof(argv[3]);
    if (cfg_defaults(&cfg) || date_set_zone("Asia/Ho_Chi_Minh"))
        return 1;
    snprintf(path, sizeof path, "%s/bench.db", argv[2]);
    remove(path);
    if (db_open(path, 5000, &db) || db_migrate(db, 0))
        goto out;
    for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
        snprintf(path, sizeof path, "%s/examples/articles/%s.json", argv[1], samples[i]);
        if (article_add_file(db, &cfg, path, NULL))
            goto out;
    }
    snprintf(path, sizeof path, "%s/templates", argv[1]);
    if (tpl_set_open(path, NULL, &tpls))
        goto out;
    env.cfg = &cfg;
    env.db = db;
    env.tpls = tpls;
    in = json_pack("{s:s,s:s,s:s,s:s,s:s}", "kind", "share", "article", samples[0], "sender_name",
                   "Nguyễn Văn Bình", "sender_email", "binh@example.org", "note",
                   "Anh xem bài này nhé.\nCó ảnh đẹp.");
    if (compose_plan_new(&env, in, &share))
        goto out;
    json_decref(in);
    in = json_pack("{s:s,s:[s,s,s,s,s,s],s:{s:i,s:s,s:s},s:s}", "kind", "digest", "articles",
                   samples[0], samples[1], samples[2], samples[3], samples[4], samples[5], "list",
                   "id", 1, "slug", "tin-tuc", "name", "Tin tức Hà Giang", "week", "48");
    if (compose_plan_new(&env, in, &digest))
        goto out;
    json_decref(in);
    snprintf(path, sizeof path, "%s/share.eml", argv[2]);
    if (bench(share, "share", 0, seconds, path))
        goto out;
    snprintf(path, sizeof path, "%s/digest.eml", argv[2]);
    if (bench(digest, "digest", 1, seconds, path))
        goto out;
    rc = 0;
out:
    if (rc)
        fprintf(stderr, "bench_compose: %s\n", merr_msg());
    compose_plan_free(share);
    compose_plan_free(digest);
    tpl_set_free(tpls);
    db_close(db);
    cfg_free(&cfg);
    return rc;
}
