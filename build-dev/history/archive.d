build-dev/history/archive.o: history/archive.c history/archive.h \
 history/history.h util/resource.h util/buf.h util/error.h
history/archive.h:
history/history.h:
util/resource.h:
util/buf.h:
util/error.h:
