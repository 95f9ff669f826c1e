/* fuzz.h - what the fuzz targets share: the libFuzzer entry point's
 * prototype (the same function runs under libFuzzer and under
 * replay_main.c's driver) and a check that aborts, so that a broken
 * property is a crash both of them report. */
#ifndef NETSRV_FUZZ_H
#define NETSRV_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A property of the code under test that must hold for every input. */
#define FUZZ_CHECK(cond)                                                           \
    do {                                                                           \
        if (!(cond)) {                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                               \
        }                                                                          \
    } while (0)

#endif
