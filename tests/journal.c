/* journal.c - netsrv_journal (libnetsrv/journal.c): stamps put and read
 * back, replaced, kept across a close and a reopen; a writer killed with
 * SIGKILL keeps exactly what it committed; a file that is not a journal
 * (text, binary bytes, a journal cut short or cut inside its header, a
 * directory, another program's SQLite database, a symbolic link) is
 * -EINVAL or another negative errno with a reason naming it, and is left
 * as it was (a link is not followed); an empty file is a new journal; an
 * unwritable place is an error with a reason;
 * unlink removes the database and SQLite's files beside it. */
#include "config.h"
#include "tap.h"
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char path[600];

static int exists(const char *suffix)
{
    char p[700];
    snprintf(p, sizeof p, "%s%s", path, suffix);
    return access(p, F_OK) == 0;
}

static int put_str(netsrv_journal *j, const char *key, const char *stamp)
{
    return netsrv_journal_put(j, key, strlen(key), stamp, strlen(stamp));
}

/* key's stamp as a string ("" when missing). */
static const char *get_str(netsrv_journal *j, const char *key)
{
    static char buf[64];
    ssize_t n = netsrv_journal_get(j, key, strlen(key), buf, sizeof buf - 1);
    buf[n > 0 ? (n < (ssize_t)sizeof buf ? n : (ssize_t)sizeof buf - 1) : 0] = 0;
    return buf;
}

static void write_file(const void *bytes, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || (n && write(fd, bytes, n) != (ssize_t)n) || close(fd) < 0)
        bail_out("write %s: %s", path, strerror(errno));
}

/* The file at path, malloc'd, its size in *n. */
static unsigned char *read_file(size_t *n)
{
    struct stat st;
    unsigned char *b = NULL;
    int fd = open(path, O_RDONLY);
    if (fd < 0 || fstat(fd, &st) < 0 || !(b = malloc((size_t)st.st_size + 1)) ||
        read(fd, b, (size_t)st.st_size) != st.st_size)
        bail_out("read %s: %s", path, strerror(errno));
    close(fd);
    *n = (size_t)st.st_size;
    return b;
}

/* Opening path, which holds n bytes that are not a journal, fails with
 * -EINVAL and a reason naming it, and changes nothing: the file is left
 * byte for byte, and SQLite's files are not made beside it. */
static void not_a_journal(const char *what, const void *bytes, size_t n)
{
    char err[NETSRV_ERRLEN] = "";
    netsrv_journal *j = (netsrv_journal *)&j; /* must come back NULL */

    write_file(bytes, n);
    int rc = netsrv_journal_open(&j, path, err, sizeof err);
    ok(rc == -EINVAL && j == NULL && strstr(err, path), "%s: -EINVAL, a reason (%d: %s)", what,
       rc, err);
    size_t got;
    unsigned char *now = read_file(&got);
    ok(got == n && memcmp(now, bytes, n) == 0 && !exists("-wal") && !exists("-shm"),
       "  the file left as it was, nothing beside it");
    free(now);
    netsrv_journal_unlink(path);
}

int main(void)
{
    tu_init(60);
    char err[NETSRV_ERRLEN] = "";
    netsrv_journal *j;

    snprintf(path, sizeof path, "%s/work.journal", tu_tmpdir());
    is(netsrv_journal_open(&j, path, err, sizeof err), 0, "a new journal (%s)", err);
    ok(exists(""), "its file is made");
    is((int)netsrv_journal_count(j), 0, "empty");
    char buf[8];
    is((int)netsrv_journal_get(j, "a", 1, buf, sizeof buf), -ENOENT, "a missing key: -ENOENT");
    is(put_str(j, "a", "1:100"), 0, "a put");
    is(put_str(j, "dir/b c", "2:200"), 0, "another");
    is_str(get_str(j, "a"), "1:100", "read back before the commit, in the same handle");
    is(netsrv_journal_commit(j), 0, "committed");
    is(put_str(j, "a", "3:300"), 0, "a put replacing a stamp");
    is(netsrv_journal_commit(j), 0, "committed");
    is_str(get_str(j, "a"), "3:300", "the new stamp");
    is((int)netsrv_journal_count(j), 2, "two keys");
    /* Keys are bytes with a length: a NUL-free prefix is another key. */
    is((int)netsrv_journal_get(j, "dir/b c", 5, buf, sizeof buf), -ENOENT,
       "a key's prefix is not the key");
    is(put_str(j, "lost", "x"), 0, "a put left uncommitted");
    netsrv_journal_close(j);

    is(netsrv_journal_open(&j, path, err, sizeof err), 0, "reopened");
    is((int)netsrv_journal_count(j), 2, "the committed keys are there, the uncommitted one not");
    is_str(get_str(j, "dir/b c"), "2:200", "a stamp kept across the reopen");
    netsrv_journal_close(j);

    /* A writer killed: its commits stay, its open transaction goes. */
    int ready[2];
    if (pipe(ready) < 0)
        bail_out("pipe: %s", strerror(errno));
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        netsrv_journal *w;
        if (netsrv_journal_open(&w, path, NULL, 0) < 0)
            _exit(1);
        char key[32];
        for (int i = 0; i < 100; i++) {
            snprintf(key, sizeof key, "k%d", i);
            netsrv_journal_put(w, key, strlen(key), "s", 1);
        }
        netsrv_journal_commit(w);
        for (int i = 100; i < 200; i++) {
            snprintf(key, sizeof key, "k%d", i);
            netsrv_journal_put(w, key, strlen(key), "s", 1);
        }
        if (write(ready[1], "r", 1) != 1)
            _exit(1);
        pause(); /* killed here, inside its second transaction */
        _exit(0);
    }
    close(ready[1]);
    char c;
    ok(read(ready[0], &c, 1) == 1, "a writer committed 100 keys and put 100 more");
    kill(pid, SIGKILL);
    int st;
    waitpid(pid, &st, 0);
    ok(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "and was killed with SIGKILL");
    is(netsrv_journal_open(&j, path, err, sizeof err), 0, "reopened after the kill (%s)", err);
    is((int)netsrv_journal_count(j), 102, "exactly the committed keys: 2 + 100");
    is_str(get_str(j, "k99"), "s", "the last committed key");
    is((int)netsrv_journal_get(j, "k100", 4, buf, sizeof buf), -ENOENT,
       "the first uncommitted key is not there");
    netsrv_journal_close(j);

    ok(exists("") && netsrv_journal_unlink(path) == 0 && !exists("") && !exists("-wal") &&
           !exists("-shm"),
       "unlink removes the database, its -wal and -shm");
    is(netsrv_journal_unlink(path), 0, "unlinking one that is not there is fine");

    /* Closed, a journal is one file; discarded, none. */
    is(netsrv_journal_open(&j, path, err, sizeof err), 0, "a journal again");
    put_str(j, "x", "1");
    netsrv_journal_commit(j);
    netsrv_journal_close(j);
    ok(exists("") && !exists("-wal") && !exists("-shm"), "closed: one file, no -wal or -shm");
    /* Garbage where SQLite keeps its -wal and -shm (leftovers of a crash,
     * damaged): the WAL's checksums reject it, the -shm is rebuilt; the
     * journal opens with what it holds, and takes puts. */
    {
        char side[700];
        unsigned char noise[32768];
        unsigned seed = 777;
        for (size_t i = 0; i < sizeof noise; i++) {
            seed = seed * 1103515245u + 12345u;
            noise[i] = (unsigned char)(seed >> 16);
        }
        static const char *const tails[] = { "-wal", "-shm" };
        for (int t = 0; t < 2; t++) {
            snprintf(side, sizeof side, "%s%s", path, tails[t]);
            int fd = open(side, O_WRONLY | O_CREAT | O_TRUNC, 0644);
            if (fd < 0 || write(fd, noise, t ? sizeof noise : 5000) < 0 || close(fd) < 0)
                bail_out("write %s: %s", side, strerror(errno));
        }
    }
    is(netsrv_journal_open(&j, path, err, sizeof err), 0,
       "a -wal and a -shm of garbage beside it: it opens (%s)", err);
    ok(netsrv_journal_count(j) == 1 && !strcmp(get_str(j, "x"), "1"), "  with its one key");
    ok(put_str(j, "z", "3") == 0 && netsrv_journal_commit(j) == 0, "  and takes a put");
    netsrv_journal_close(j);
    is(netsrv_journal_open(&j, path, err, sizeof err), 0, "opened");
    put_str(j, "y", "2");
    netsrv_journal_commit(j);
    ok(exists("-wal"), "written: a -wal beside it");
    is(netsrv_journal_discard(j), 0, "discarded");
    ok(!exists("") && !exists("-wal") && !exists("-shm"), "  and all its files gone");
    is(netsrv_journal_discard(NULL), 0, "discarding NULL is fine");

    /* Not a journal. */
    static const char text[] = "this is not a database at all, just some text.\n";
    not_a_journal("a file of text", text, sizeof text - 1);
    unsigned char junk[8192];
    unsigned seed = 12345;
    for (size_t i = 0; i < sizeof junk; i++) {
        seed = seed * 1103515245u + 12345u;
        junk[i] = (unsigned char)(seed >> 16);
    }
    not_a_journal("8 KiB of binary bytes", junk, sizeof junk);
    /* A real journal, closed (one file), then cut short. */
    is(netsrv_journal_open(&j, path, err, sizeof err), 0, "a journal of 500 keys");
    for (int i = 0; i < 500; i++) {
        char key[32];
        snprintf(key, sizeof key, "some/dir/file%04d", i);
        put_str(j, key, "0123456789abcdef");
    }
    netsrv_journal_commit(j);
    netsrv_journal_close(j);
    size_t jlen;
    unsigned char *real = read_file(&jlen);
    ok(jlen > 8192, "  closed: one file of %zu bytes", jlen);
    not_a_journal("that journal cut to half", real, jlen / 2);
    not_a_journal("that journal cut inside its header", real, 60);
    /* Bytes past a real journal's first page are garbage. */
    memcpy(junk, real, 4096);
    not_a_journal("its first page and then garbage", junk, sizeof junk);
    free(real);
    /* Without room for a reason: the same error, no crash. */
    write_file(junk + 4096, 4096);
    j = (netsrv_journal *)&j;
    is(netsrv_journal_open(&j, path, NULL, 0), -EINVAL, "no err buffer: -EINVAL all the same");
    ok(j == NULL, "  and no handle");
    err[0] = 'x';
    is(netsrv_journal_open(&j, path, err, 0), -EINVAL, "errlen 0: -EINVAL");
    ok(err[0] == 'x', "  and err not written");
    unlink(path);

    /* Another program's SQLite database: not turned into a journal. */
    static const char *const foreign[] = {
        "CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT);"
        "INSERT INTO notes(body) VALUES('keep me');",
        "CREATE TABLE done(name TEXT, at INTEGER); INSERT INTO done VALUES('x', 1);",
    };
    for (size_t i = 0; i < sizeof foreign / sizeof foreign[0]; i++) {
        sqlite3 *db;
        if (sqlite3_open(path, &db) != SQLITE_OK ||
            sqlite3_exec(db, foreign[i], NULL, NULL, NULL) != SQLITE_OK)
            bail_out("making %s: %s", path, sqlite3_errmsg(db));
        sqlite3_close(db);
        size_t flen;
        unsigned char *f = read_file(&flen);
        not_a_journal(i == 0 ? "an SQLite database of another program"
                             : "an SQLite database with a table 'done' of other columns",
                      f, flen);
        free(f);
    }

    /* An empty file: a new journal (SQLite's view of it). */
    write_file("", 0);
    err[0] = 0;
    is(netsrv_journal_open(&j, path, err, sizeof err), 0, "an empty file: a new journal (%s)", err);
    is((int)netsrv_journal_count(j), 0, "  with no keys");
    ok(put_str(j, "k", "v") == 0 && netsrv_journal_commit(j) == 0 && !strcmp(get_str(j, "k"), "v"),
       "  which takes a put");
    netsrv_journal_discard(j);

    int rc;
    /* A symbolic link at path is not followed, whether it leads nowhere
     * (nothing is made there) or to a journal (left as it was). */
    char target[500];
    snprintf(target, sizeof target, "%s/elsewhere", tu_tmpdir());
    if (symlink(target, path) < 0)
        bail_out("symlink %s: %s", path, strerror(errno));
    err[0] = 0;
    j = (netsrv_journal *)&j;
    rc = netsrv_journal_open(&j, path, err, sizeof err);
    ok(rc == -ELOOP && j == NULL && strstr(err, path), "a symbolic link: -ELOOP (%s)", err);
    ok(access(target, F_OK) < 0, "  nothing made where it leads");
    unlink(path);
    snprintf(path, sizeof path, "%s", target);
    is(netsrv_journal_open(&j, path, err, sizeof err), 0, "a journal there");
    put_str(j, "a", "1");
    netsrv_journal_commit(j);
    netsrv_journal_close(j);
    size_t tlen;
    unsigned char *before = read_file(&tlen);
    snprintf(path, sizeof path, "%s/work.journal", tu_tmpdir());
    if (symlink(target, path) < 0)
        bail_out("symlink %s: %s", path, strerror(errno));
    rc = netsrv_journal_open(&j, path, err, sizeof err);
    ok(rc == -ELOOP && j == NULL, "a symbolic link to that journal: -ELOOP too");
    unlink(path);
    snprintf(path, sizeof path, "%s", target);
    size_t alen;
    unsigned char *after = read_file(&alen);
    ok(alen == tlen && memcmp(before, after, tlen) == 0 && !exists("-wal"),
       "  the journal it leads to left as it was");
    free(before);
    free(after);
    netsrv_journal_unlink(path);
    snprintf(path, sizeof path, "%s/work.journal", tu_tmpdir());

    /* A directory where the journal would be. */
    if (mkdir(path, 0755) < 0)
        bail_out("mkdir %s: %s", path, strerror(errno));
    err[0] = 0;
    rc = netsrv_journal_open(&j, path, err, sizeof err);
    ok(rc < 0 && j == NULL && strstr(err, path), "a directory: %d (%s)", rc, err);
    rmdir(path);

    snprintf(path, sizeof path, "%s/no/such/dir/j", tu_tmpdir());
    err[0] = 0;
    rc = netsrv_journal_open(&j, path, err, sizeof err);
    ok(rc < 0 && j == NULL && strstr(err, path), "a place that cannot be written: %d (%s)", rc,
       err);
    netsrv_journal_close(NULL);
    return done_testing();
}
