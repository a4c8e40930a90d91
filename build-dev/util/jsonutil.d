build-dev/util/jsonutil.o: util/jsonutil.c util/jsonutil.h util/buf.h \
 util/error.h util/fsutil.h util/timeutil.h
util/jsonutil.h:
util/buf.h:
util/error.h:
util/fsutil.h:
util/timeutil.h:
