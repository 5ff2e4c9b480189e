/* SPDX-License-Identifier: MIT
 * fuzz_snapshot.c - libFuzzer target for snapshot_decode: any bytes must give NULL or a room
 * whose canonical encoding decodes again to the same bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "room.h"
#include "snapshot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct room_limits lim = {1000, 1000};
    struct room *r = snapshot_decode(data, size, &lim);
    if (!r)
        return 0;
    unsigned char *a, *b;
    size_t alen, blen;
    snapshot_encode(r, true, &a, &alen);
    struct room *again = snapshot_decode(a, alen, &lim);
    if (!again)
        abort();
    snapshot_encode(again, true, &b, &blen);
    if (alen != blen || memcmp(a, b, alen) != 0)
        abort();
    free(a);
    free(b);
    room_free(again);
    room_free(r);
    return 0;
}
