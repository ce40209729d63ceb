/*
 * frame: length-prefixed messages over a stream socket between the server
 * and its sandbox workers. A frame is a 4-byte little-endian length and that
 * many bytes; FRAME_MAX_BYTES bounds it so a confused peer cannot make the
 * other side allocate without end.
 */
#ifndef LEDGERBOX_FRAME_H
#define LEDGERBOX_FRAME_H

#include <stddef.h>

#include <jansson.h>

#define FRAME_MAX_BYTES (256u << 20)

/* Writes one frame; retries on EINTR and short writes. 0 or -errno. */
int frame_write(int fd, const void *data, size_t len);
/* Reads one frame into a malloc'd buffer (NUL-terminated). -EPIPE at a
 * clean end of stream, -EPROTO for a frame over FRAME_MAX_BYTES. */
int frame_read(int fd, char **ret, size_t *ret_len);
/* JSON helpers over frames. */
int frame_write_json(int fd, json_t *value);
int frame_read_json(int fd, json_t **ret);

#endif
