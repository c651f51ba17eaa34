/* peek: prints its effective uid, then the file named on its command line. Built by the
 * hostile Makefile and made set-user-id to the files' owner, in the hope that the confined
 * user's cat can run it to read the secret. */
#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    printf("%d\n", (int)geteuid());
    FILE *f = argc > 1 ? fopen(argv[1], "r") : NULL;
    if (f != NULL) {
        int c;
        while ((c = fgetc(f)) != EOF)
            putchar(c);
        fclose(f);
    }
    return 0;
}
