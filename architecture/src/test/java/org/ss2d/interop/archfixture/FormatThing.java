package org.ss2d.interop.archfixture;

/** A stand-in for a format class. */
public final class FormatThing {}
