build-dev/forecast/depend.o: forecast/depend.c forecast/forecast.h \
 history/history.h util/resource.h util/error.h
forecast/forecast.h:
history/history.h:
util/resource.h:
util/error.h:
