#!/bin/bash
# Part 1 test: run the listener in the background with its output going to a
# file, send it SIGUSR1, then check what it wrote and how it exited.
set -x   # show each command in the CI log
set -e   # any unexpected failure fails the test

rm -f output.log
./listener > output.log &
listener_pid=$!
echo "listener started as process $listener_pid"

sleep 1   # let it install its signal handlers first

kill -s USR1 "$listener_pid"

# Wait for it to end: a C program's output to a file is only complete once
# it has exited (stdio flushes its buffer then).
exit_status=0
wait "$listener_pid" || exit_status=$?

printed=$(cat output.log)
problems=""
[[ "$printed" == *"Listener PID: $listener_pid"* ]] || problems+=" no 'Listener PID: $listener_pid' line;"
[[ "$printed" == *"SIGUSR1 received!"* ]] || problems+=" no 'SIGUSR1 received!' line;"
[[ "$exit_status" -eq 0 ]] || problems+=" exit status $exit_status instead of 0;"

if [[ -z "$problems" ]]; then
	echo -e "\033[92m PASSED \033[0m"
	exit 0
fi
echo -e "\033[91m FAILED:$problems \033[0m"
echo "printed: $printed"
exit 1
