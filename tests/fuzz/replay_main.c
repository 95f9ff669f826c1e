/* replay_main.c - runs a fuzz target without libFuzzer: every file of its
 * seed corpus (tests/fuzz/corpus/NAME, NAME given at build time as
 * FUZZ_NAME) goes once through LLVMFuzzerTestOneInput, one TAP line per
 * file, so the corpora are regression tests in every `make check` and
 * under the sanitizers.  Files or directories given as arguments are run
 * instead (a crash file found by a fuzzer, say).  A failed check aborts:
 * the TAP driver reports the program's death. */
#include "config.h"
#include "fuzz.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#ifndef FUZZ_NAME
#error "FUZZ_NAME (the target's name) must be defined"
#endif

static unsigned tests;

/* Reads path into an allocation of exactly its size, so that a target
 * reading past the input trips AddressSanitizer as under libFuzzer. */
static int run_file(const char *path, const char *shown)
{
    FILE *f = fopen(path, "rb");
    struct stat st;
    uint8_t *data;
    size_t n;

    if (!f || fstat(fileno(f), &st) < 0) {
        printf("not ok %u - %s: %s\n", ++tests, shown, strerror(errno));
        if (f)
            fclose(f);
        return 1;
    }
    data = malloc(st.st_size > 0 ? (size_t)st.st_size : 1);
    n = data ? fread(data, 1, (size_t)st.st_size, f) : 0;
    fclose(f);
    if (!data || n != (size_t)st.st_size) {
        printf("not ok %u - %s: cannot read it\n", ++tests, shown);
        free(data);
        return 1;
    }
    /* The name first: if the target dies, the log says on what. */
    fprintf(stderr, "# %s (%zu bytes)\n", shown, n);
    LLVMFuzzerTestOneInput(data, n);
    free(data);
    printf("ok %u - %s\n", ++tests, shown);
    fflush(stdout);
    return 0;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every regular file in dir, in name order (a stable plan). */
static int run_dir(const char *dir, const char *label)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char **names = NULL;
    size_t count = 0, cap = 0;
    int bad = 0;

    if (!d) {
        printf("not ok %u - %s: %s\n", ++tests, dir, strerror(errno));
        return 1;
    }
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        if (count == cap) {
            char **more = realloc(names, (cap = cap ? 2 * cap : 64) * sizeof *names);

            if (!more)
                break;
            names = more;
        }
        if (!(names[count] = strdup(e->d_name)))
            break;
        count++;
    }
    closedir(d);
    qsort(names, count, sizeof *names, cmp_names);
    for (size_t i = 0; i < count; i++) {
        char path[4096], shown[4096];

        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        snprintf(shown, sizeof shown, "%s/%s", label, names[i]);
        bad |= run_file(path, shown);
        free(names[i]);
    }
    free(names);
    if (count == 0) {
        printf("not ok %u - %s: an empty corpus\n", ++tests, label);
        bad = 1;
    }
    return bad;
}

int main(int argc, char **argv)
{
    int bad = 0;

    if (argc > 1) {
        for (int i = 1; i < argc; i++) {
            struct stat st;

            if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode))
                bad |= run_dir(argv[i], argv[i]);
            else
                bad |= run_file(argv[i], argv[i]);
        }
    } else {
        const char *src = getenv("top_srcdir");
        char dir[4096];

        snprintf(dir, sizeof dir, "%s/tests/fuzz/corpus/%s", src && *src ? src : ".", FUZZ_NAME);
        bad = run_dir(dir, FUZZ_NAME);
    }
    printf("1..%u\n", tests);
    return bad;
}
