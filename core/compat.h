/* SPDX-License-Identifier: MIT OR GPL-2.0 */
/*
 * The decoder in core/ compiles both into the user-space library and into
 * the kernel module.  This header is the only place that knows which one it
 * is: it provides fixed-width types, errno values and mem* functions.
 * core/ never allocates and keeps no global state.
 */
#ifndef PUZZLEFS_CORE_COMPAT_H
#define PUZZLEFS_CORE_COMPAT_H

#ifdef __KERNEL__
#include <linux/types.h>
#include <linux/errno.h>
#include <linux/string.h>
#include <linux/stdarg.h>
#include <linux/kernel.h>
#include <linux/stat.h>
#ifndef EUCLEAN
#define EUCLEAN 117
#endif
#else
#include <stdarg.h>
#include <stdio.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <errno.h>
#include <sys/stat.h>
typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef int64_t s64;
typedef int32_t s32;
#endif

/* Little-endian loads that do not assume alignment. */
static inline u16 pfs_le16(const u8 *p)
{
	return (u16)(p[0] | (u16)p[1] << 8);
}

static inline u32 pfs_le32(const u8 *p)
{
	return (u32)p[0] | (u32)p[1] << 8 | (u32)p[2] << 16 | (u32)p[3] << 24;
}

static inline u64 pfs_le64(const u8 *p)
{
	return (u64)pfs_le32(p) | (u64)pfs_le32(p + 4) << 32;
}

/* Value of a hex digit, or -1. */
static inline int pfs_hexval(u8 c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Long loops over a whole rootfs (mount time) let others run now and then. */
#ifdef __KERNEL__
#include <linux/sched.h>
#define pfs_yield(i) do { if (((i) & 0xffff) == 0) cond_resched(); } while (0)
#else
#define pfs_yield(i) do { (void)(i); } while (0)
#endif

/* Errors that mean "the image is corrupt" (EFSCORRUPTED in the kernel). */
#define PFS_ECORRUPT EUCLEAN

#endif
