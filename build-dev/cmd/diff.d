build-dev/cmd/diff.o: cmd/diff.c cmd/cmd.h plans/diff.h plans/store.h \
 util/error.h
cmd/cmd.h:
plans/diff.h:
plans/store.h:
util/error.h:
