/* cli_outbox.c: placeholder until the module's commands land. */
#include "cli.h"

int cli_share(struct app *app, int argc, char **argv)
{
    (void)app;
    (void)argc;
    return app_fail(merr_set(MERR_UNSUPPORTED, "not built yet"), argv[0]);
}

int cli_deliver(struct app *app, int argc, char **argv)
{
    (void)app;
    (void)argc;
    return app_fail(merr_set(MERR_UNSUPPORTED, "not built yet"), argv[0]);
}

int cli_queue(struct app *app, int argc, char **argv)
{
    (void)app;
    (void)argc;
    return app_fail(merr_set(MERR_UNSUPPORTED, "not built yet"), argv[0]);
}

