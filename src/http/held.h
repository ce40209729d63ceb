/*
 * held: answers held back before they are sent, without a thread each.
 *
 * A wrong key is answered only after a delay (auth.c). Sleeping on a lane
 * thread for it let a flood of wrong keys take every handler thread, so
 * that right keys waited behind the held answers. The answer is queued on
 * the suspended connection instead, and one thread resumes the connection
 * when its delay is over. Stopping resumes all of them at once. Private to
 * src/http/.
 */
#ifndef LEDGERBOX_HTTP_HELD_H
#define LEDGERBOX_HTTP_HELD_H

#include <stdint.h>

#include <microhttpd.h>

int held_start(void);
/* Resumes the suspended connection (conn_unpark) at due_ms
 * (clock_mono_ms); at once when not started, stopping or out of memory. */
void held_resume_at(struct MHD_Connection *conn, uint64_t due_ms);
/* Resumes every held connection now and ends the thread. */
void held_stop(void);

#endif
