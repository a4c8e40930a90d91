build-dev/util/fsutil.o: util/fsutil.c util/fsutil.h util/error.h \
 util/fault.h
util/fsutil.h:
util/error.h:
util/fault.h:
