build-dev/plans/diff.o: plans/diff.c plans/diff.h util/error.h
plans/diff.h:
util/error.h:
