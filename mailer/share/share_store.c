/*
 * share_store.c: the SQL of the share feature (share_log). The table is
 * created by migration 0004; its rows are written only here, in the same
 * transaction as the share's send and envelopes.
 */
#include "share_store.h"

#include "date.h"

static const char SQL_LOG[] =
    "INSERT INTO share_log(article_id, send_id, sender_email, sender_name, client_ip, "
    "recipients, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";

enum merr share_store_log(struct db *db, const char *article_id, long long send_id,
                          const char *sender_email, const char *sender_name, const char *client_ip,
                          size_t recipients)
{
    sqlite3_stmt *st = db_stmt(db, SQL_LOG);
    int src;

    if (!st)
        return MERR_DB;
    sqlite3_bind_text(st, 1, article_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, send_id);
    sqlite3_bind_text(st, 3, sender_email, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, sender_name ? sender_name : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, client_ip ? client_ip : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, (sqlite3_int64)recipients);
    sqlite3_bind_int64(st, 7, (sqlite3_int64)date_now());
    src = sqlite3_step(st);
    sqlite3_reset(st);
    return src == SQLITE_DONE ? MERR_OK : db_fail(db, src, "share log");
}
