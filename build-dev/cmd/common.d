build-dev/cmd/common.o: cmd/common.c cmd/cmd.h util/error.h \
 util/resource.h util/timeutil.h
cmd/cmd.h:
util/error.h:
util/resource.h:
util/timeutil.h:
