/* chat.c - fuzz target: netsrv_chat_parse, the chat handler's line
 * protocol (handlers/chat_proto.c).  The input is what a client sends:
 * each line is parsed as the handler parses it, with a text buffer of
 * exactly the size the call asks for (an overrun is a heap overflow), and
 * so is the whole input as one line. */
#include "config.h"
#include "fuzz.h"

#include <errno.h>
#include <string.h>

#include "netsrv.h"

static void parse_one(const char *line, size_t len)
{
    netsrv_chat_cmd cmd;
    char *text = malloc(len + 1);
    int kind;

    if (!text)
        return;
    kind = netsrv_chat_parse(line, len, text, len + 1, &cmd);
    FUZZ_CHECK(kind == cmd.kind);
    if (kind < 0) {
        FUZZ_CHECK(kind == -EMSGSIZE || kind == -EILSEQ || kind == -EINVAL || kind == -ENOSYS);
        FUZZ_CHECK(cmd.error != NULL);
        free(text);
        return;
    }
    FUZZ_CHECK(kind >= NETSRV_CHAT_SAY && kind <= NETSRV_CHAT_EMPTY);
    FUZZ_CHECK(cmd.text == text && cmd.text_len <= len && strlen(text) == cmd.text_len);
    /* Nothing another client's terminal would take as a control. */
    for (size_t i = 0; i < cmd.text_len; i++)
        FUZZ_CHECK((unsigned char)text[i] >= 0x20 && text[i] != 0x7f);
    if (kind == NETSRV_CHAT_NICK || kind == NETSRV_CHAT_JOIN)
        FUZZ_CHECK(netsrv_chat_name_ok(text, cmd.text_len));
    if (kind == NETSRV_CHAT_SAY || kind == NETSRV_CHAT_ME)
        FUZZ_CHECK(cmd.text_len > 0);
    if (kind == NETSRV_CHAT_EMPTY)
        FUZZ_CHECK(cmd.text_len == 0);
    free(text);

    /* Too small a buffer is refused, never overrun (one byte short of the
     * line without its end of line). */
    size_t want = len;
    if (want && line[want - 1] == '\n')
        want--;
    if (want && line[want - 1] == '\r')
        want--;
    if (want > 0 && want <= NETSRV_CHAT_LINE_MAX && (text = malloc(want))) {
        FUZZ_CHECK(netsrv_chat_parse(line, len, text, want, &cmd) == -ENOSPC);
        free(text);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data, *end = p + size;

    /* As the handler reads them: line by line, each with its "\n". */
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
        char *line = malloc(len ? len : 1);

        if (!line)
            return 0;
        memcpy(line, p, len); /* on its own, so a read past it is caught */
        parse_one(line, len);
        free(line);
        p += len;
    }
    parse_one((const char *)data, size);
    FUZZ_CHECK(netsrv_chat_name_ok((const char *)data, size) == 0 || size <= NETSRV_CHAT_NAME_MAX);
    return 0;
}
