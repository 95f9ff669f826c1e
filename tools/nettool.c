/* nettool.c - the multi-call entry point: finds the applet from the name
 * the binary was run under (nettool-serve, serve) or from the first
 * argument, and answers --help, --list and --version itself.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <netsrv.h>

#include "applets.h"

#define NT_TABLE_ENTRY(name, summary) \
    { #name, nt_##name##_main, summary, nt_##name##_usage },
static const struct nt_applet nt_applets[] = {
    NT_APPLET_LIST(NT_TABLE_ENTRY)
};
#undef NT_TABLE_ENTRY

#define NT_NAPPLETS (sizeof nt_applets / sizeof nt_applets[0])

static const char nt_main_usage[] =
    "Usage: nettool APPLET [ARGS...]\n"
    "   or: nettool-APPLET [ARGS...]   (a link named after the applet)\n"
    "   or: nettool --list | --version | --help | help APPLET\n"
    "\n"
    "Applets:\n";

static const struct nt_applet nt_self = { "nettool", NULL, "", "" };

static const struct nt_applet *nt_find(const char *name)
{
    size_t i;

    for (i = 0; i < NT_NAPPLETS; i++)
        if (strcmp(nt_applets[i].name, name) == 0)
            return &nt_applets[i];
    return NULL;
}

static int nt_help(FILE *f)
{
    size_t i;

    fputs(nt_main_usage, f);
    for (i = 0; i < NT_NAPPLETS; i++)
        fprintf(f, "  %-10s %s\n", nt_applets[i].name, nt_applets[i].summary);
    fputs("\nRun 'nettool APPLET --help' for an applet's options.\n", f);
    return fflush(f) == 0 ? NT_EXIT_OK : NT_EXIT_FAILURE;
}

static int nt_unknown(const char *name)
{
    fprintf(stderr, "nettool: unknown applet '%s'\n"
                    "Run 'nettool --list' to see the applets.\n", name);
    return NT_EXIT_UNKNOWN;
}

static int nt_run(const struct nt_applet *a, int argc, char **argv)
{
    nt_current = a;
    return a->main(argc, argv);
}

/* The name the binary runs under, less its directory and the "lt-" that
 * libtool puts before programs run from the build tree. */
static const char *nt_basename(const char *argv0)
{
    const char *slash = strrchr(argv0, '/');
    const char *name = slash ? slash + 1 : argv0;

    if (strncmp(name, "lt-", 3) == 0)
        name += 3;
    return name;
}

int main(int argc, char **argv)
{
    const struct nt_applet *a;
    const char *name = nt_basename(argc > 0 && argv[0] ? argv[0] : "nettool");
    size_t i;

    nt_current = &nt_self;

    /* Run as a link: "nettool-serve ..." or "serve ...". */
    if (strncmp(name, "nettool-", 8) == 0) {
        if ((a = nt_find(name + 8)) == NULL)
            return nt_unknown(name + 8);
        return nt_run(a, argc, argv);
    }
    if ((a = nt_find(name)) != NULL)
        return nt_run(a, argc, argv);

    /* Anything else (nettool itself, or a name we do not know) takes the
     * applet from its first argument. */
    if (argc < 2)
        nt_usage_error("missing APPLET (nettool --list shows them)");
    name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0)
        return nt_help(stdout);
    if (strcmp(name, "help") == 0) {
        if (argc < 3)
            return nt_help(stdout);
        if ((a = nt_find(argv[2])) == NULL)
            return nt_unknown(argv[2]);
        fputs(a->usage, stdout);
        return fflush(stdout) == 0 ? NT_EXIT_OK : NT_EXIT_FAILURE;
    }
    if (strcmp(name, "--list") == 0 || strcmp(name, "-l") == 0) {
        for (i = 0; i < NT_NAPPLETS; i++)
            puts(nt_applets[i].name);
        return fflush(stdout) == 0 ? NT_EXIT_OK : NT_EXIT_FAILURE;
    }
    if (strcmp(name, "--version") == 0 || strcmp(name, "-V") == 0) {
        printf("nettool %s (libnetsrv %s)\n", PACKAGE_VERSION, NETSRV_VERSION);
        return fflush(stdout) == 0 ? NT_EXIT_OK : NT_EXIT_FAILURE;
    }
    if (name[0] == '-')
        nt_usage_error("unknown option '%s'", name);
    if ((a = nt_find(name)) == NULL)
        return nt_unknown(name);
    return nt_run(a, argc - 1, argv + 1);
}
