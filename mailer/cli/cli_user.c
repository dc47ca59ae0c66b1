/*
 * cli_user.c: `mailer user add|ls|passwd|rm`: accounts of the web admin.
 *
 * A password is never an argument (it would show in `ps` and the shell's
 * history): on a terminal it is asked for twice with echo off (termios on
 * /dev/tty); otherwise it is the first line of stdin, for scripts
 * (`printf '%s\n' "$PW" | mailer user add ...`). Every change is written
 * to the audit log as done by "cli".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "admin.h"
#include "cli.h"
#include "date.h"

#define PW_BUF (ADMIN_PASSWORD_MAX + 2)

static const char USAGE[] =
    "usage: mailer user <command>\n\n"
    "Accounts of the web admin (/admin/). An admin may do everything; an editor\n"
    "manages lists, subscribers, digests, sends, the queue and bounces, but not\n"
    "accounts, API tokens or the audit log. The password (at least 10 characters)\n"
    "is asked twice without echo on a terminal, or read as the first line of\n"
    "stdin otherwise.\n\n"
    "commands:\n"
    "  add EMAIL [--name NAME] [--role admin|editor]\n"
    "                  add an account (an editor unless --role admin)\n"
    "  ls              every account\n"
    "  passwd EMAIL    set a new password; the account's sessions end\n"
    "  rm EMAIL        remove an account (never the last admin)\n\n"
    "`mailer user <command> --help` for details.\n";

/* Reads one line into buf (without its newline). -1 at EOF or on a line too long. */
static int read_line(FILE *f, char *buf, size_t size)
{
    size_t n;
    if (!fgets(buf, (int)size, f))
        return -1;
    n = strlen(buf);
    if (n && buf[n - 1] == '\n')
        buf[--n] = '\0';
    else if (!feof(f))
        return -1; /* longer than the buffer */
    if (n && buf[n - 1] == '\r')
        buf[--n] = '\0';
    return 0;
}

/* Asks on the terminal with echo off. */
static int ask(FILE *tty, const char *prompt, char *buf, size_t size)
{
    struct termios old, quiet;
    int fd = fileno(tty), r, restore = tcgetattr(fd, &old) == 0;
    fprintf(stderr, "%s", prompt);
    fflush(stderr);
    if (restore) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(fd, TCSAFLUSH, &quiet);
    }
    r = read_line(tty, buf, size);
    if (restore)
        tcsetattr(fd, TCSAFLUSH, &old);
    fprintf(stderr, "\n");
    return r;
}

/* The new password: twice on a terminal, else one line of stdin. Returns 0 or an exit code. */
static int read_password(char *pw, size_t size)
{
    char again[PW_BUF];
    if (!isatty(STDIN_FILENO)) {
        if (read_line(stdin, pw, size))
            return cli_usage("user", "no password on stdin (one line, at most %d bytes)",
                             ADMIN_PASSWORD_MAX);
        return 0;
    }
    FILE *tty = fopen("/dev/tty", "r+");
    int bad =
        !tty || ask(tty, "Mật khẩu: ", pw, size) || ask(tty, "Nhập lại: ", again, sizeof again);
    if (tty)
        fclose(tty);
    if (bad)
        return cli_usage("user", "could not read the password from the terminal");
    if (strcmp(pw, again) != 0) {
        memset(again, 0, sizeof again);
        fprintf(stderr, "mailer: user: the two passwords differ\n");
        return 3;
    }
    memset(again, 0, sizeof again);
    return 0;
}

static const struct admin_actor CLI = {0, "cli", NULL};

static int cmd_add(struct app *app, int argc, char **argv)
{
    const char *email = NULL, *name = NULL, *role_s = "editor";
    char pw[PW_BUF];
    long long id = 0;
    int role, code;
    enum merr rc;

    for (int i = 1; i < argc; i++) {
        int missing = 0;
        if (cli_opt_value(argc, argv, &i, "--name", &name, &missing) ||
            cli_opt_value(argc, argv, &i, "--role", &role_s, &missing)) {
            if (missing)
                return cli_usage("user", "%s needs a value", argv[i]);
        } else if (argv[i][0] == '-') {
            return cli_usage("user", "unknown option %s", argv[i]);
        } else if (!email) {
            email = argv[i];
        } else {
            return cli_usage("user", "one EMAIL at a time (got \"%s\" too)", argv[i]);
        }
    }
    if (!email)
        return cli_usage("user", "user add needs an EMAIL");
    if (!(role = admin_role_parse(role_s)))
        return cli_usage("user", "--role: admin or editor");
    if ((rc = app_db(app)))
        return app_fail(rc, "user add");
    if ((code = read_password(pw, sizeof pw)))
        return code;
    rc = admin_user_add(app->db, email, name, (enum admin_role)role, pw, date_now(), &id);
    memset(pw, 0, sizeof pw);
    if (rc)
        return app_fail(rc, "user add");
    admin_audit(app->db, &CLI, date_now(), "user.add", email, "vai trò %s", role_s);
    printf("account %lld %s (%s) added\n", id, email, role_s);
    return 0;
}

static int cmd_ls(struct app *app, int argc, char **argv)
{
    struct admin_user *v = NULL;
    size_t n = 0;
    enum merr rc;
    (void)argv;
    if (argc != 1)
        return cli_usage("user", "user ls takes no arguments");
    if ((rc = app_db(app)) || (rc = admin_user_list(app->db, &v, &n)))
        return app_fail(rc, "user ls");
    printf("%-5s %-32s %-7s %-21s %s\n", "ID", "EMAIL", "ROLE", "LAST LOGIN", "NAME");
    for (size_t i = 0; i < n; i++) {
        char t[DATE_ISO_LEN] = "-";
        if (v[i].last_login_at)
            date_iso8601_utc(v[i].last_login_at, t);
        printf("%-5lld %-32s %-7s %-21s %s\n", v[i].id, v[i].email, admin_role_name(v[i].role), t,
               v[i].name);
    }
    free(v);
    return 0;
}

static int cmd_passwd(struct app *app, int argc, char **argv)
{
    char pw[PW_BUF];
    int code;
    enum merr rc;
    struct admin_user u;
    if (argc != 2 || argv[1][0] == '-')
        return cli_usage("user", "user passwd takes one EMAIL");
    if ((rc = app_db(app)) || (rc = admin_user_find(app->db, argv[1], &u)))
        return app_fail(rc, "user passwd");
    if ((code = read_password(pw, sizeof pw)))
        return code;
    rc = admin_user_passwd(app->db, argv[1], pw, date_now());
    memset(pw, 0, sizeof pw);
    if (rc)
        return app_fail(rc, "user passwd");
    admin_audit(app->db, &CLI, date_now(), "user.passwd", u.email, NULL);
    printf("password of %s changed; its sessions ended\n", u.email);
    return 0;
}

static int cmd_rm(struct app *app, int argc, char **argv)
{
    enum merr rc;
    if (argc != 2 || argv[1][0] == '-')
        return cli_usage("user", "user rm takes one EMAIL");
    if ((rc = app_db(app)) || (rc = admin_user_remove(app->db, argv[1])))
        return app_fail(rc, "user rm");
    admin_audit(app->db, &CLI, date_now(), "user.remove", argv[1], NULL);
    printf("account %s removed\n", argv[1]);
    return 0;
}

static const struct cli_command user_cmds[] = {
    {.name = "add",
     .run = cmd_add,
     .usage = "usage: mailer user add EMAIL [--name NAME] [--role admin|editor]\n\n"
              "Adds an account of the web admin (role editor unless --role admin). The\n"
              "password (at least 10 characters) is asked twice without echo on a\n"
              "terminal, or read as the first line of stdin otherwise.\n"},
    {.name = "ls",
     .run = cmd_ls,
     .usage = "usage: mailer user ls\n\n"
              "Every account: id, address, role, last sign-in, name.\n"},
    {.name = "passwd",
     .run = cmd_passwd,
     .usage = "usage: mailer user passwd EMAIL\n\n"
              "Sets a new password (asked as for add) and ends the account's sessions.\n"},
    {.name = "rm",
     .run = cmd_rm,
     .usage = "usage: mailer user rm EMAIL\n\n"
              "Removes the account and its sessions; the audit log keeps its address.\n"
              "The last admin cannot be removed.\n"},
    {.name = NULL},
};

const struct cli_command cli_user_cmd = {
    .name = "user",
    .usage = USAGE,
    .sub = user_cmds,
    .summary = "accounts of the web admin: add, ls, passwd, rm",
};
