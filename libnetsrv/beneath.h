/* beneath.h - the two ways netsrv_open_beneath() confines a path, named so
 * that tests can hold the component walk (the fallback for kernels without
 * openat2) to the same cases as the kernel's RESOLVE_BENEATH.  Private. */
#ifndef NETSRV_BENEATH_H
#define NETSRV_BENEATH_H

/* The component-by-component walk with O_NOFOLLOW; same contract as
 * netsrv_open_beneath(). */
int netsrv__open_beneath_walk(int dirfd, const char *path, int flags);
/* openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS) alone; -ENOSYS where the
 * kernel (or the headers at build time) has none. */
int netsrv__open_beneath_openat2(int dirfd, const char *path, int flags);

#endif /* NETSRV_BENEATH_H */
