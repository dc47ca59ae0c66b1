/*
 * http_admin_import.c: importing a CSV file from the browser: upload, a
 * dry run with every bad line named, then the import, with progress.
 *
 *   GET  /admin/import[?list=SLUG]   the upload form (file, list, mode)
 *   POST /admin/import               multipart/form-data upload: makes a
 *                                    job and starts its dry run
 *   GET  /admin/import/JOB           the job: progress while it runs; then
 *                                    the dry run's report (rows, new
 *                                    subscribers, bad lines with their line
 *                                    number and reason) and the button that
 *                                    imports for real; then the import's
 *                                    report
 *   GET  /admin/import/JOB/progress.json
 *   POST /admin/import/JOB/run       import for real (once: a second click,
 *                                    or an old tab, finds it running or done)
 *
 * A job is the uploaded bytes and what became of them, kept in this
 * process's memory (at most JOBS_MAX jobs; a finished one is dropped after
 * JOB_KEEP_S): the import itself is subs_import_csv, the same as `mailer sub
 * import`, run on a thread of the job's own with its own database handle,
 * in one transaction (a dry run is the same work rolled back, so its
 * report is exact). Progress comes from its on_progress callback (every
 * 4,096 rows). A restart of the server drops the jobs; an import cut short
 * by it leaves the database as before (one transaction). The upload may
 * be up to [admin] import_max_bytes, for a signed-in person only: the
 * front asks http_admin_body_cap before it reads the body.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "date.h"
#include "http_admin.h"
#include "log.h"
#include "rnd.h"
#include "subs.h"

#define JOBS_MAX   8
#define JOB_KEEP_S 3600
#define BAD_MAX    500

enum job_state { JOB_DRY, JOB_DRY_DONE, JOB_IMPORTING, JOB_DONE, JOB_FAILED };

struct bad_line {
    long long line;
    char reason[200];
};

struct job {
    char id[33];
    long long user_id;
    char user_email[256];
    char client_ip[64];
    char list[SUBS_SLUG_MAX + 1];
    enum subs_import_mode mode;
    char filename[256];
    char *data;
    size_t len;
    const struct config *cfg;
    /* under `lock` */
    enum job_state state;
    long long bytes, rows;
    struct subs_import_report dry, done;
    struct bad_line bad[BAD_MAX];
    size_t nbad;
    char error[512];
    time_t finished_at;
    pthread_t th;
    int has_thread;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct job *jobs[JOBS_MAX];

static void job_free(struct job *j)
{
    if (!j)
        return;
    free(j->data);
    free(j);
}

static struct job *job_find(const char *id)
{
    for (int i = 0; i < JOBS_MAX; i++)
        if (jobs[i] && !strcmp(jobs[i]->id, id))
            return jobs[i];
    return NULL;
}

static void on_bad(void *arg, long long line, const char *reason)
{
    struct job *j = arg;
    pthread_mutex_lock(&lock);
    if (j->nbad < BAD_MAX) {
        j->bad[j->nbad].line = line;
        snprintf(j->bad[j->nbad].reason, sizeof j->bad[j->nbad].reason, "%s", reason);
        j->nbad++;
    }
    pthread_mutex_unlock(&lock);
}

static void on_progress(void *arg, long long bytes, long long rows)
{
    struct job *j = arg;
    pthread_mutex_lock(&lock);
    j->bytes = bytes;
    j->rows = rows;
    pthread_mutex_unlock(&lock);
}

static void *job_main(void *arg)
{
    struct job *j = arg;
    struct subs_import_opts o;
    struct subs_import_report rep;
    struct db *db = NULL;
    FILE *in;
    int dry;
    enum merr rc;

    pthread_mutex_lock(&lock);
    dry = j->state == JOB_DRY;
    if (!dry)
        j->nbad = 0;
    j->bytes = j->rows = 0;
    pthread_mutex_unlock(&lock);
    memset(&o, 0, sizeof o);
    memset(&rep, 0, sizeof rep);
    o.list_slug = j->mode == SUBS_IMPORT_BLOCKLIST ? NULL : j->list;
    o.mode = j->mode;
    o.dry_run = dry;
    o.on_bad = on_bad;
    o.on_progress = on_progress;
    o.arg = j;
    rc = db_open(j->cfg->db_path, j->cfg->db_busy_timeout_ms, &db);
    in = rc ? NULL : fmemopen(j->data, j->len, "r");
    if (!rc && !in)
        rc = merr_set(MERR_NOMEM, "out of memory");
    if (!rc)
        rc = subs_import_csv(db, j->cfg, in, &o, date_now(), &rep);
    if (in)
        fclose(in);
    if (!rc && !dry) {
        struct admin_actor who = {j->user_id, j->user_email, j->client_ip};
        admin_audit(db, &who, date_now(), "import.run", j->list,
                    "tệp %s: %lld dòng, %lld lỗi, %lld người mới, %lld đăng ký mới", j->filename,
                    rep.rows, rep.bad, rep.created, rep.subscribed);
    }
    db_close(db);
    pthread_mutex_lock(&lock);
    if (rc) {
        snprintf(j->error, sizeof j->error, "%s", merr_msg()[0] ? merr_msg() : merr_str(rc));
        j->state = JOB_FAILED;
    } else if (dry) {
        j->dry = rep;
        j->state = JOB_DRY_DONE;
    } else {
        j->done = rep;
        j->state = JOB_DONE;
        /* the data is not needed any more */
        free(j->data);
        j->data = NULL;
        j->len = 0;
    }
    j->finished_at = time(NULL);
    pthread_mutex_unlock(&lock);
    if (rc)
        log_warn("http: admin import %s: %s", j->id, j->error);
    return NULL;
}

/* Starts the job's thread for its current state (called with `lock` held). */
static enum merr job_start(struct job *j)
{
    if (j->has_thread) {
        pthread_mutex_unlock(&lock);
        pthread_join(j->th, NULL); /* the dry run's thread, finished */
        pthread_mutex_lock(&lock);
        j->has_thread = 0;
    }
    if (pthread_create(&j->th, NULL, job_main, j) != 0)
        return merr_set(MERR_INTERNAL, "cannot start the import thread");
    j->has_thread = 1;
    return MERR_OK;
}

/* A free slot (dropping finished jobs past JOB_KEEP_S), or -1 (called with `lock` held). */
static int free_slot(void)
{
    time_t now = time(NULL);
    for (int i = 0; i < JOBS_MAX; i++) {
        struct job *j = jobs[i];
        if (j && (j->state == JOB_DONE || j->state == JOB_FAILED || j->state == JOB_DRY_DONE) &&
            now - j->finished_at > JOB_KEEP_S) {
            if (j->has_thread)
                pthread_join(j->th, NULL);
            job_free(j);
            jobs[i] = NULL;
        }
    }
    for (int i = 0; i < JOBS_MAX; i++)
        if (!jobs[i])
            return i;
    return -1;
}

void http_admin_import_stop(void)
{
    pthread_mutex_lock(&lock);
    for (int i = 0; i < JOBS_MAX; i++) {
        struct job *j = jobs[i];
        if (!j)
            continue;
        if (j->has_thread) {
            pthread_mutex_unlock(&lock);
            pthread_join(j->th, NULL);
            pthread_mutex_lock(&lock);
        }
        job_free(j);
        jobs[i] = NULL;
    }
    pthread_mutex_unlock(&lock);
}

static void form_page(struct http_admin *a, int status, const char *error)
{
    struct subs_list *v = NULL;
    size_t n = 0;
    const char *want = http_query(a->r, "list");
    json_t *arr, *d;
    enum merr rc = subs_list_all(a->db, &v, &n);
    if (rc)
        return http_admin_fail(a, rc, "lists");
    if (!want)
        want = http_admin_field(a, "list");
    arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr,
                              json_pack("{s:s, s:s, s:b}", "slug", v[i].slug, "name", v[i].name,
                                        "selected", want && !strcmp(want, v[i].slug)));
    subs_lists_free(v, n);
    d = json_pack("{s:s, s:o, s:I}", "title", "Nhập danh sách từ CSV", "lists", arr, "max_mb",
                  (json_int_t)(a->r->ctx->cfg->admin_import_max_bytes >> 20));
    if (error)
        json_object_set_new(d, "error", json_string(error));
    http_admin_page(a, status, "import", "import", d);
}

static void upload(struct http_admin *a)
{
    const struct http_field *file = http_form_field(&a->form, "csv");
    const char *list = http_admin_field(a, "list"), *mode = http_admin_field(a, "mode");
    struct subs_list l;
    struct job *j;
    int slot;
    enum merr rc;

    if (!file || !file->filename || !file->len)
        return form_page(a, 400, "Chưa chọn tệp CSV, hoặc tệp rỗng.");
    j = calloc(1, sizeof *j);
    if (!j)
        return http_admin_fail(a, merr_set(MERR_NOMEM, "out of memory"), "import");
    j->mode = !mode || !strcmp(mode, "confirmed") ? SUBS_IMPORT_CONFIRMED
              : !strcmp(mode, "unconfirmed")      ? SUBS_IMPORT_UNCONFIRMED
                                                  : SUBS_IMPORT_BLOCKLIST;
    if (mode && strcmp(mode, "confirmed") && strcmp(mode, "unconfirmed") &&
        strcmp(mode, "blocklist")) {
        job_free(j);
        return form_page(a, 400, "Cách nhập: chọn một trong các lựa chọn.");
    }
    if (j->mode != SUBS_IMPORT_BLOCKLIST) {
        if (!list || !*list) {
            job_free(j);
            return form_page(a, 400, "Chọn danh sách để nhập vào.");
        }
        memset(&l, 0, sizeof l);
        rc = subs_list_get(a->db, list, &l);
        if (rc) {
            job_free(j);
            return form_page(a, 400, "Không có danh sách này.");
        }
        snprintf(j->list, sizeof j->list, "%s", l.slug);
        subs_list_clear(&l);
    }
    j->data = malloc(file->len + 1);
    if (!j->data) {
        job_free(j);
        return http_admin_fail(a, merr_set(MERR_NOMEM, "out of memory"), "import");
    }
    memcpy(j->data, file->value, file->len);
    j->data[file->len] = '\0';
    j->len = file->len;
    snprintf(j->filename, sizeof j->filename, "%s", file->filename);
    rnd_hex(j->id, 16);
    j->user_id = a->s.user.id;
    snprintf(j->user_email, sizeof j->user_email, "%s", a->s.user.email);
    snprintf(j->client_ip, sizeof j->client_ip, "%s", a->r->client_ip);
    j->cfg = a->r->ctx->cfg;
    j->state = JOB_DRY;
    pthread_mutex_lock(&lock);
    slot = free_slot();
    rc = slot < 0 ? merr_set(MERR_LIMIT, "too many imports at once") : job_start(j);
    if (!rc)
        jobs[slot] = j;
    pthread_mutex_unlock(&lock);
    if (rc) {
        job_free(j);
        return form_page(a, 503, "Đang có quá nhiều lượt nhập; xin thử lại sau ít phút.");
    }
    char loc[64];
    snprintf(loc, sizeof loc, "/admin/import/%s", j->id);
    http_admin_done(a, loc, NULL);
}

static json_t *report_json(const struct subs_import_report *r)
{
    return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "rows",
                     (json_int_t)r->rows, "bad", (json_int_t)r->bad, "created",
                     (json_int_t)r->created, "subscribed", (json_int_t)r->subscribed, "upgraded",
                     (json_int_t)r->upgraded, "existing", (json_int_t)r->existing, "left",
                     (json_int_t)r->left, "suppressed", (json_int_t)r->suppressed, "blocked",
                     (json_int_t)r->blocked, "confirm_mails", (json_int_t)r->confirm_mails);
}

/* The job as JSON (called with `lock` held). */
static json_t *job_json(const struct job *j)
{
    static const char *const states[] = {"dry", "dry_done", "importing", "done", "failed"};
    int running = j->state == JOB_DRY || j->state == JOB_IMPORTING;
    json_t *bad = json_array();
    for (size_t i = 0; i < j->nbad; i++)
        json_array_append_new(bad, json_pack("{s:I, s:s}", "line", (json_int_t)j->bad[i].line,
                                             "reason", j->bad[i].reason));
    long long bad_total = j->state == JOB_DONE ? j->done.bad : j->dry.bad;
    json_t *o = json_pack(
        "{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:i, s:b, s:b, s:b, s:b, s:b, s:o}", "id", j->id,
        "state", states[j->state], "filename", j->filename, "list", j->list, "bytes",
        (json_int_t)j->bytes, "total", (json_int_t)j->len, "rows", (json_int_t)j->rows, "percent",
        j->len ? (int)(j->bytes * 100 / (long long)j->len) : 0, "running", running, "dry_done",
        j->state == JOB_DRY_DONE, "done", j->state == JOB_DONE, "failed", j->state == JOB_FAILED,
        "finished", !running, "bad_lines", bad);
    /* only when there is more (a number, 0 too, is true for a template section) */
    json_object_set_new(o, "has_bad", json_boolean(bad_total > 0));
    if (bad_total > (long long)j->nbad)
        json_object_set_new(o, "bad_more", json_integer(bad_total - (long long)j->nbad));
    json_object_set_new(o, "mode",
                        json_string(j->mode == SUBS_IMPORT_CONFIRMED ? "đã xác nhận"
                                    : j->mode == SUBS_IMPORT_UNCONFIRMED ? "chờ xác nhận (gửi thư)"
                                                                         : "danh sách chặn"));
    if (j->state == JOB_DRY_DONE || j->state == JOB_IMPORTING || j->state == JOB_DONE)
        json_object_set_new(o, "dry", report_json(&j->dry));
    if (j->state == JOB_DONE)
        json_object_set_new(o, "report", report_json(&j->done));
    if (j->state == JOB_FAILED)
        json_object_set_new(o, "error", json_string(j->error));
    return o;
}

static void job_page(struct http_admin *a, const char *id, int as_json)
{
    json_t *jj;
    int running;
    pthread_mutex_lock(&lock);
    struct job *j = job_find(id);
    jj = j ? job_json(j) : NULL;
    running = j && (j->state == JOB_DRY || j->state == JOB_IMPORTING);
    pthread_mutex_unlock(&lock);
    if (!jj) {
        if (as_json)
            return http_reply_error(a->r, 404, "not_found", "no such import", NULL);
        return http_admin_error(a, 404, "Không tìm thấy lượt nhập",
                                "Lượt nhập này không còn (máy chủ đã khởi động lại, hoặc đã quá "
                                "một giờ). Xin tải tệp lên lại.");
    }
    if (as_json) {
        http_reply_json(a->r, 200, jj);
        http_header(a->r, "Cache-Control", "no-store");
        return;
    }
    http_admin_page(
        a, 200, "import_job", "import",
        json_pack("{s:s, s:o, s:b}", "title", "Nhập danh sách", "job", jj, "refresh", running));
}

static void run(struct http_admin *a, const char *id)
{
    char loc[64];
    enum merr rc = MERR_OK;
    pthread_mutex_lock(&lock);
    struct job *j = job_find(id);
    if (j && j->state == JOB_DRY_DONE) {
        j->state = JOB_IMPORTING;
        rc = job_start(j);
        if (rc)
            j->state = JOB_DRY_DONE;
    }
    pthread_mutex_unlock(&lock);
    if (!j)
        return job_page(a, id, 0);
    if (rc)
        return http_admin_fail(a, rc, "import");
    /* whatever the state (a second click finds it running or done): show the job */
    snprintf(loc, sizeof loc, "/admin/import/%s", id);
    http_admin_done(a, loc, NULL);
}

void http_admin_import(struct http_admin *a, const char *rest)
{
    char id[40];
    const char *slash = strchr(rest, '/');
    size_t n = slash ? (size_t)(slash - rest) : strlen(rest);

    if (!*rest) {
        if (a->post)
            return upload(a);
        return form_page(a, 200, NULL);
    }
    if (n != 32 || strspn(rest, "0123456789abcdef") < 32)
        return http_admin_error(a, 404, "Không tìm thấy lượt nhập", "");
    memcpy(id, rest, 32);
    id[32] = '\0';
    if (!slash) {
        if (!http_admin_get_only(a))
            return;
        return job_page(a, id, 0);
    }
    if (!strcmp(slash, "/progress.json")) {
        if (!http_admin_get_only(a))
            return;
        return job_page(a, id, 1);
    }
    if (!strcmp(slash, "/run")) {
        if (!a->post)
            return http_admin_bad_method(a, "POST");
        return run(a, id);
    }
    http_admin_error(a, 404, "Không tìm thấy trang", "");
}
