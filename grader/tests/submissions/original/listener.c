/*
 * listener.c: Part 1 of the IPC lab.
 *
 * Announces its process id, then sleeps until SIGINT or SIGUSR1 arrives.
 * SIGINT counts as a failure (exit status 1), SIGUSR1 as a success (0).
 *
 * The handlers only record what happened; main does the printing once
 * pause() has returned, because printf is not safe to call from inside a
 * signal handler. Since main returns normally, stdio flushes whatever is
 * still buffered, so the output also arrives when stdout is a pipe or file.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* A handler cannot return a value, so it leaves the exit status here. */
static volatile sig_atomic_t return_code = 0;
/* Which signal woke us up (0 while none has). */
static volatile sig_atomic_t caught = 0;

static void on_sigint(int signo)
{
    caught = signo;
    return_code = 1;
}

static void on_sigusr1(int signo)
{
    caught = signo;
    return_code = 0;
}

int main(void)
{
    printf("Listener PID: %d\n", (int)getpid());

    if (signal(SIGINT, on_sigint) == SIG_ERR || signal(SIGUSR1, on_sigusr1) == SIG_ERR) {
        perror("signal");
        return 2;
    }

    /* Sleep in the kernel (no CPU use) until a handled signal comes in. */
    pause();

    if (caught == SIGINT) {
        printf("SIGINT received!\n");
    } else if (caught == SIGUSR1) {
        printf("SIGUSR1 received!\n");
    }
    return return_code;
}
