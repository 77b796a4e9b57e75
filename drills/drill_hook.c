#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "drill_hook.h"
#include "drill_metrics.h"
#include "drill_record.h"
#include "err.h"
#include "util.h"

#define KILL_GRACE 2.0   /* seconds between SIGTERM and SIGKILL */
#define DRAIN_GRACE 1.0  /* seconds to drain output after the hook exits */

/* In the child: set up and exec; never returns. */
static void
child(const char *cmd, const char *cwd, const char *const *env, int wfd)
{
	int nul;
	size_t i;

	setpgid(0, 0);
	signal(SIGPIPE, SIG_DFL);
	if ((nul = open("/dev/null", O_RDONLY)) < 0 || dup2(nul, 0) < 0 ||
	    dup2(wfd, 1) < 0 || dup2(wfd, 2) < 0)
		_exit(127);
	if (chdir(cwd) != 0) {
		dprintf(2, "bkp drill: cannot enter scratch directory\n");
		_exit(127);
	}
	/* Hooks are the user's commands, but they get no secrets of ours. */
	unsetenv("BKP_PASSPHRASE");
	for (i = 0; env != NULL && env[i] != NULL; i++)
		if (putenv((char *)(uintptr_t)env[i]) != 0)
			_exit(127);
	execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
	_exit(127);
}

int
drill_hook_run(const char *cmd, const char *cwd, const char *const *env,
    double timeout, int notify_fd, struct drill_hook_result *res)
{
	char *out = NULL;
	size_t outlen = 0, kept = DRILL_HOOK_OUTPUT_MAX - 1;
	char buf[4096];
	double t0 = util_mono(), now, deadline, killat = 0;
	struct pollfd pfd;
	int fds[2] = { -1, -1 }, status = 0, exited = 0, rfd_open = 1;
	int termed = 0, killed = 0, trunc = 0, rc = ERR_FAIL;
	size_t take;
	ssize_t n;
	pid_t pid, w;

	memset(res, 0, sizeof(*res));
	res->exit_code = -1;
	if (drill_record_strset(&res->command, cmd) != ERR_OK)
		return ERR_FAIL;
	if ((out = malloc(kept + 1)) == NULL) {
		err_set("out of memory");
		goto done;
	}
	if (pipe2(fds, O_CLOEXEC) != 0) {
		err_set("cannot create pipe for hook: %s", strerror(errno));
		goto done;
	}
	if ((pid = fork()) < 0) {
		err_set("cannot start hook: %s", strerror(errno));
		goto done;
	}
	if (pid == 0)
		child(cmd, cwd, env, fds[1]);
	setpgid(pid, pid);    /* also here: no race with the kill below */
	if (notify_fd >= 0)
		dprintf(notify_fd, "pgid %ld\n", (long)pid);
	close(fds[1]);
	fds[1] = -1;
	deadline = t0 + timeout;

	while (!exited || rfd_open) {
		now = util_mono();
		if (!exited && !termed && now >= deadline) {
			res->timed_out = 1;
			kill(-pid, SIGTERM);
			termed = 1;
			killat = now + KILL_GRACE;
		}
		if (!exited && termed && !killed && now >= killat) {
			kill(-pid, SIGKILL);
			killed = 1;
		}
		if (exited && now >= deadline) {
			/* Output still open after the hook exited: a
			 * background child holds it.  Stop it. */
			kill(-pid, SIGKILL);
			break;
		}
		if (!exited) {
			w = waitpid(pid, &status, WNOHANG);
			if (w == pid) {
				exited = 1;
				deadline = now + DRAIN_GRACE;
				continue;
			}
		}
		if (!rfd_open) {
			usleep(10000);
			continue;
		}
		pfd.fd = fds[0];
		pfd.events = POLLIN;
		if (poll(&pfd, 1, 50) <= 0)
			continue;
		n = read(fds[0], buf, sizeof(buf));
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0) {
			rfd_open = 0;
			continue;
		}
		take = (size_t)n < kept - outlen ? (size_t)n : kept - outlen;
		memcpy(out + outlen, buf, take);
		outlen += take;
		if (take < (size_t)n)
			res->truncated = 1;
	}
	/* Nothing the hook started may outlive it. */
	kill(-pid, SIGKILL);
	if (notify_fd >= 0)
		dprintf(notify_fd, "pgid 0\n");
	res->seconds = util_mono() - t0;
	if (WIFEXITED(status))
		res->exit_code = WEXITSTATUS(status);
	else if (WIFSIGNALED(status))
		res->signal = WTERMSIG(status);
	res->passed = !res->timed_out && WIFEXITED(status) &&
	    res->exit_code == 0;
	if ((res->output = malloc(outlen + 1)) == NULL) {
		err_set("out of memory");
		goto done;
	}
	drill_record_sanitize(out, outlen, res->output, outlen + 1, &trunc);
	rc = ERR_OK;
done:
	if (fds[0] >= 0)
		close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
	free(out);
	return rc;
}
