build-dev/cmd/main.o: cmd/main.c cmd/cmd.h
cmd/cmd.h:
