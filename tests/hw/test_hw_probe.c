// SPDX-License-Identifier: MIT
/*
 * The first-touch probe: off by default, nothing is timed; on, every
 * firmware-view clear's first access is counted, and one that stalls
 * (>= HW_STALL_NS: the hypervisor below had the page away) apart.
 */
#include "test.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "hw/hw.h"
#include "lib/lib.h"

/*
 * A frame "taken away" the way the hypervisor under a nested VM does it:
 * its firmware-view PTE is zapped and registered for userfaultfd minor
 * faults, and a handler thread resolves each fault only after
 * STALL_HOLD_NS.  A clear's first access then stalls.
 */
#define STALL_FRAMES 4
#define STALL_HOLD_NS 200000

struct stall_handler {
	int uffd, stop_fd;
	int resolved;
};

static void *stall_handler_main(void *arg)
{
	struct stall_handler *h = arg;
	const struct timespec hold = { 0, STALL_HOLD_NS };

	for (;;) {
		struct pollfd pfd[2] = { { h->uffd, POLLIN, 0 },
					 { h->stop_fd, POLLIN, 0 } };
		struct uffd_msg msg;
		struct uffdio_continue cont;

		if (poll(pfd, 2, -1) < 0 || (pfd[1].revents & POLLIN))
			return NULL;
		if (read(h->uffd, &msg, sizeof(msg)) != sizeof(msg) ||
		    msg.event != UFFD_EVENT_PAGEFAULT)
			continue;
		nanosleep(&hold, NULL);		/* the hypervisor's fault */
		cont.range.start = msg.arg.pagefault.address & ~(uint64_t)4095;
		cont.range.len = 4096;
		cont.mode = 0;
		if (ioctl(h->uffd, UFFDIO_CONTINUE, &cont) == 0)
			h->resolved++;
	}
}

/* Zap and register the firmware view of [pfn, pfn + n); the uffd or -errno. */
static int take_frames_away(struct hw_machine *hw, hw_pfn_t pfn, uint64_t n)
{
	struct uffdio_api api = { .api = UFFD_API,
				  .features = UFFD_FEATURE_MINOR_SHMEM };
	struct uffdio_register reg;
	void *start = hw_fw_page(hw, pfn);
	int fd, err;

	/* User-mode faults only: what unprivileged users may handle. */
	fd = (int)syscall(SYS_userfaultfd,
			  O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
	if (fd < 0)
		return -errno;
	reg.range.start = (uint64_t)(uintptr_t)start;
	reg.range.len = n * 4096;
	reg.mode = UFFDIO_REGISTER_MODE_MINOR;
	if (ioctl(fd, UFFDIO_API, &api) || ioctl(fd, UFFDIO_REGISTER, &reg) ||
	    madvise(start, n * 4096, MADV_DONTNEED)) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

/*
 * Clear frames taken away, with the probe off and on: off, the stats stay
 * at zero; on, each clear's first touch is counted and stalls, and the
 * stall time covers the handler's hold.
 */
TEST_IMPL(hw_probe_first_touch_stalls_apart)
{
	for (int on = 0; on < 2; on++) {
		struct hw_config cfg = { .mem_bytes = 4 << 20 };
		struct stall_handler h = { .resolved = 0 };
		struct hw_machine *hw;
		struct hw_stats st;
		const hw_pfn_t pfn = 16;
		pthread_t thr;
		int stop[2];

		ASSERT_OK(hw_machine_create(&cfg, &hw));
		for (uint64_t i = 0; i < STALL_FRAMES; i++)
			memset(hw_fw_page(hw, pfn + i), 0x5a, HW_PAGE_SIZE);
		hw_probe_first_touch(hw, on);
		h.uffd = take_frames_away(hw, pfn, STALL_FRAMES);
		if (h.uffd < 0)
			test_fail(__FILE__, __LINE__,
				  "userfaultfd minor faults on the firmware view: %s",
				  strerror(-h.uffd));
		ASSERT_OK(pipe(stop));
		h.stop_fd = stop[0];
		ASSERT_OK(pthread_create(&thr, NULL, stall_handler_main, &h));
		for (uint64_t i = 0; i < STALL_FRAMES; i++)
			hw_frame_clear_fw(hw, pfn + i);
		ASSERT_UEQ(write(stop[1], "x", 1), 1);
		pthread_join(thr, NULL);
		ASSERT_EQ(h.resolved, STALL_FRAMES);	/* every clear stalled */
		for (uint64_t i = 0; i < STALL_FRAMES; i++)
			ASSERT_UEQ(*(uint64_t *)hw_fw_page(hw, pfn + i), 0);
		hw_stats_get(hw, &st);
		if (!on) {
			ASSERT_UEQ(st.touches, 0);
			ASSERT_UEQ(st.touch_ns, 0);
			ASSERT_UEQ(st.stalls, 0);
			ASSERT_UEQ(st.stall_ns, 0);
		} else {
			ASSERT_UEQ(st.touches, STALL_FRAMES);
			ASSERT_UEQ(st.stalls, STALL_FRAMES);
			ASSERT_GE(st.stall_ns, STALL_FRAMES * STALL_HOLD_NS);
			ASSERT_GE(st.touch_ns, st.stall_ns);
		}
		close(stop[0]);
		close(stop[1]);
		close(h.uffd);
		ASSERT_OK(hw_check(hw));
		hw_machine_destroy(hw);
	}
	return 0;
}
