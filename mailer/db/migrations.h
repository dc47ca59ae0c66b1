/*
 * migrations.h: the numbered schema migrations, generated at build time from
 * mailer/db/migrations/NNNN_name.sql (see mailer/db/CMakeLists.txt).
 * Forward only: a released file is never edited, a change is a new file.
 */
#ifndef MAILER_DB_MIGRATIONS_H
#define MAILER_DB_MIGRATIONS_H

#include <stddef.h>

struct db_migration {
    int version;
    const char *name;
    const char *sql;
};

extern const struct db_migration db_migrations[];
extern const size_t db_migrations_count;

#endif
